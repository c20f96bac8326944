"""Shell completion scripts, generated from the command line's own parser. No I/O.

``spiderpoolctl completion bash`` prints a bash script completing every command, sub-
command and flag (and the choices of ``-o``), kubeconfig contexts after ``--context``
(read by kubectl, when there is one) and file names where a command takes files. zsh
runs the same script through ``bashcompinit``. Both complete ``kubectl-spiderpool``
too; kubectl itself does not hand completion to plugins before 1.26.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

NAMES = ("spiderpoolctl", "kubectl-spiderpool")


def _subparsers(ap: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in ap._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _words(ap: argparse.ArgumentParser) -> list[str]:
    flags = [s for a in ap._actions for s in a.option_strings if s.startswith("--") or len(s) == 2]
    return sorted(_subparsers(ap)) + sorted(set(flags))


def _choices(ap: argparse.ArgumentParser) -> dict[str, list[str]]:
    return {
        s: [str(c) for c in a.choices]
        for a in ap._actions
        if a.choices and a.option_strings
        for s in a.option_strings
    }


def _walk(
    ap: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, ap
    for name, sub in _subparsers(ap).items():
        yield from _walk(sub, f"{path} {name}")


def bash(ap: argparse.ArgumentParser) -> str:
    words, choices = [], []
    for path, sub in _walk(ap):
        words.append(f'    "{path}") echo "{" ".join(_words(sub))}" ;;')
        for flag, values in sorted(_choices(sub).items()):
            choices.append(f'    "{path}|{flag}") echo "{" ".join(values)}" ;;')
    return _TEMPLATE.format(
        words="\n".join(words), choices="\n".join(choices), names=" ".join(NAMES)
    )


def zsh(ap: argparse.ArgumentParser) -> str:
    return "autoload -U +X bashcompinit && bashcompinit\n" + bash(ap)


_TEMPLATE = """# spiderpoolctl completion (spiderpoolctl completion bash|zsh; docs/cli.md)
_spiderpoolctl_words() {{
  case "$1" in
{words}
  esac
}}
_spiderpoolctl_choices() {{
  case "$1" in
{choices}
  esac
}}
_spiderpoolctl() {{
  local cur prev path i w values
  cur="${{COMP_WORDS[COMP_CWORD]}}"
  prev="${{COMP_WORDS[COMP_CWORD-1]}}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${{COMP_WORDS[i]}}"
    [[ "$w" == -* ]] && continue
    if [[ " $(_spiderpoolctl_words "$path") " == *" $w "* ]]; then path="$path $w"; fi
  done
  case "$prev" in
    --context)
      COMPREPLY=($(compgen -W "$(kubectl config get-contexts -o name 2>/dev/null)" -- "$cur"))
      return ;;
    --kubeconfig)
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
  esac
  values="$(_spiderpoolctl_choices "$path|$prev")"
  if [[ -n "$values" ]]; then
    COMPREPLY=($(compgen -W "$values" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -W "$(_spiderpoolctl_words "$path")" -- "$cur"))
}}
complete -o default -F _spiderpoolctl {names}
"""
