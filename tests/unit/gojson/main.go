// Decodes Multus network-selection annotations with Go's encoding/json, the way Multus
// does (into a slice of pointers to a struct with Multus's field tags), for the
// differential test tests/unit/test_multus_decoding.py. One JSON string per input line;
// one JSON answer per output line: {"ok": false} or {"ok": true, "items": [...]}.
package main

import (
	"bufio"
	"encoding/json"
	"os"
)

type selection struct {
	Name      string   `json:"name"`
	Namespace string   `json:"namespace,omitempty"`
	IPRequest []string `json:"ips,omitempty"`
	Mac       string   `json:"mac,omitempty"`
	Interface string   `json:"interface,omitempty"`
}

type item struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Interface string `json:"interface"`
}

type answer struct {
	Ok    bool   `json:"ok"`
	Items []item `json:"items,omitempty"` // absent when not ok
}

func decode(raw string) answer {
	var sels []*selection
	if err := json.Unmarshal([]byte(raw), &sels); err != nil {
		return answer{}
	}
	out := answer{Ok: true, Items: []item{}}
	for _, s := range sels {
		if s == nil { // Multus would dereference it: not a usable annotation
			return answer{}
		}
		out.Items = append(out.Items, item{s.Name, s.Namespace, s.Interface})
	}
	return out
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var raw string
		if err := json.Unmarshal(in.Bytes(), &raw); err != nil {
			panic(err)
		}
		if err := enc.Encode(decode(raw)); err != nil {
			panic(err)
		}
	}
}
