"""`tunespec completion bash|zsh|fish`: a completion script for the shell, made from the command line's own
parser (every subcommand, its options and, for options with choices, their values), so that it is never
out of date. Paths complete to folders and `.tune` files."""

from __future__ import annotations

import argparse


def words(parser: argparse.ArgumentParser) -> dict[str, tuple[list[str], dict[str, list[str]]]]:
    """subcommand -> (its options, {option: its choices})."""
    found: dict[str, tuple[list[str], dict[str, list[str]]]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                options, choices = [], {}
                for item in sub._actions:
                    options.extend(item.option_strings)
                    if item.option_strings and item.choices:
                        for option in item.option_strings:
                            choices[option] = [str(choice) for choice in item.choices]
                found[name] = (sorted(options), choices)
    return found


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    table = words(parser)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](table)


def _bash(table: dict) -> str:
    cases = []
    for name, (options, choices) in table.items():
        values = "".join(f"            {option}) COMPREPLY=($(compgen -W '{' '.join(values)}' -- \"$cur\")); return;;\n"
                         for option, values in choices.items())
        cases.append(f"        {name})\n          case \"$prev\" in\n{values}          esac\n"
                     f"          opts='{' '.join(options)}';;\n")
    return f"""# bash completion for tunespec: eval "$(tunespec completion bash)" (e.g. in ~/.bashrc)
_tunespec() {{
    local cur prev command opts=""
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W '{' '.join(table)} --help --version' -- "$cur"))
        return
    fi
    command="${{COMP_WORDS[1]}}"
    case "$command" in
{''.join(cases)}    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X '!*.tune' -- "$cur"))
    fi
}}
complete -o filenames -F _tunespec tunespec
"""


def _zsh(table: dict) -> str:
    lines = []
    for name, (options, choices) in table.items():
        specs = " ".join(f"'{option}[{option}]" + (f":value:({' '.join(choices[option])})'" if option in choices else "'")
                         for option in options)
        lines.append(f"    {name}) _arguments {specs} '*:file:_files -g \"*.tune(-.)\"' ;;")
    body = "\n".join(lines)
    return f"""#compdef tunespec
# zsh completion for tunespec: tunespec completion zsh > "${{fpath[1]}}/_tunespec"
_tunespec() {{
  if (( CURRENT == 2 )); then
    compadd -- {' '.join(table)}
    return
  fi
  case "$words[2]" in
{body}
  esac
}}
compdef _tunespec tunespec
"""


def _fish(table: dict) -> str:
    lines = ["# fish completion for tunespec: tunespec completion fish > ~/.config/fish/completions/tunespec.fish",
             "complete -c tunespec -f"]
    commands = " ".join(table)
    for name in table:
        lines.append(f"complete -c tunespec -n 'not __fish_seen_subcommand_from {commands}' -a {name}")
    for name, (options, choices) in table.items():
        for option in options:
            flag = f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"
            values = f" -x -a '{' '.join(choices[option])}'" if option in choices else ""
            lines.append(f"complete -c tunespec -n '__fish_seen_subcommand_from {name}' {flag}{values}")
        lines.append(f"complete -c tunespec -n '__fish_seen_subcommand_from {name}' -F -a '(__fish_complete_suffix .tune)'")
    return "\n".join(lines) + "\n"
