// cnirun: a minimal CNI runtime for tests, built on libcni (the library containerd,
// CRI-O and Multus use to run conflists). It runs one ADD, CHECK or DEL of a conflist
// against a network namespace, or asks a plugin for its VERSION.
//
// stdout: on success the ADD result (or nothing); on a plugin error the CNI error
// object as JSON and exit status 2; any other failure goes to stderr with status 3.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func fail(err error) {
	// libcni wraps the plugin's error object ("plugin X failed (add): %w").
	var e *types.Error
	if errors.As(err, &e) {
		_ = json.NewEncoder(os.Stdout).Encode(e)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "cnirun:", err)
	os.Exit(3)
}

func loadList(path string) *libcni.NetworkConfigList {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	var probe map[string]interface{}
	if err := json.Unmarshal(data, &probe); err != nil {
		fail(err)
	}
	if _, ok := probe["plugins"]; ok {
		list, err := libcni.ConfListFromBytes(data)
		if err != nil {
			fail(err)
		}
		return list
	}
	conf, err := libcni.ConfFromBytes(data)
	if err != nil {
		fail(err)
	}
	list, err := libcni.ConfListFromConf(conf)
	if err != nil {
		fail(err)
	}
	return list
}

func parseArgs(s string) [][2]string {
	var out [][2]string
	for _, kv := range strings.Split(s, ";") {
		if kv == "" {
			continue
		}
		parts := strings.SplitN(kv, "=", 2)
		if len(parts) != 2 {
			fail(fmt.Errorf("bad -args item %q", kv))
		}
		out = append(out, [2]string{parts[0], parts[1]})
	}
	return out
}

func main() {
	confPath := flag.String("conf", "", "conflist (or single conf) file")
	id := flag.String("id", "", "container ID")
	netns := flag.String("netns", "", "netns path")
	ifname := flag.String("ifname", "eth0", "interface name")
	args := flag.String("args", "", "CNI_ARGS as K=V;K=V")
	capArgs := flag.String("cap", "", "capability args as a JSON object")
	cacheDir := flag.String("cache-dir", "", "libcni result cache dir")
	plugin := flag.String("plugin", "", "plugin type for the version command")
	flag.Parse()
	if flag.NArg() != 1 {
		fail(fmt.Errorf("usage: cnirun [flags] add|check|del|version"))
	}
	cniPath := strings.Split(os.Getenv("CNI_PATH"), ":")
	cninet := libcni.NewCNIConfigWithCacheDir(cniPath, *cacheDir, nil)
	ctx := context.Background()

	if flag.Arg(0) == "version" {
		info, err := cninet.GetVersionInfo(ctx, *plugin)
		if err != nil {
			fail(err)
		}
		_ = json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
			"supportedVersions": info.SupportedVersions()})
		return
	}

	list := loadList(*confPath)
	rt := &libcni.RuntimeConf{
		ContainerID: *id, NetNS: *netns, IfName: *ifname, Args: parseArgs(*args),
	}
	if *capArgs != "" {
		if err := json.Unmarshal([]byte(*capArgs), &rt.CapabilityArgs); err != nil {
			fail(err)
		}
	}
	switch flag.Arg(0) {
	case "add":
		res, err := cninet.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		if err := cninet.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cninet.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	default:
		fail(fmt.Errorf("unknown command %q", flag.Arg(0)))
	}
}
