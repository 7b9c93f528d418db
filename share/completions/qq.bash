# Bash completion for qq-run, qq-info, qq-wipe, qq-clear, qq-sync and the qq front command.
# Install: source this file from ~/.bashrc, or copy it to /etc/bash_completion.d/.

_qq_info_files() {
    local cur=$1
    COMPREPLY+=( $(compgen -f -X '!*.qqinfo' -- "$cur") $(compgen -d -- "$cur") )
}

_qq_run() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    if [[ $cur == -* ]]; then
        COMPREPLY=( $(compgen -W '--local --help --version --' -- "$cur") )
    else
        COMPREPLY=( $(compgen -f -- "$cur") )
    fi
}

_qq_info() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    if [[ $cur == -* ]]; then
        COMPREPLY=( $(compgen -W '--short --json --no-batch --tail --follow --help --version' -- "$cur") )
    elif [[ $prev == --tail && -z $cur ]]; then
        # The optional line count: offer the usual ones, and files too (N may be left out).
        COMPREPLY=( 10 20 50 100 )
        _qq_info_files "$cur"
    else
        _qq_info_files "$cur"
    fi
}

_qq_wipe() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    if [[ $prev == --older-than ]]; then
        COMPREPLY=( $(compgen -W '1d 7d 30d' -- "$cur") )
    elif [[ $cur == -* ]]; then
        COMPREPLY=( $(compgen -W '--yes --force --orphans --older-than --include-unsynced --dry-run --help --version' -- "$cur") )
    else
        _qq_info_files "$cur"
    fi
}

_qq_clear() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    if [[ $cur == -* ]]; then
        COMPREPLY=( $(compgen -W '--force --dry-run --help --version' -- "$cur") )
    else
        COMPREPLY=( $(compgen -d -- "$cur") )
    fi
}

_qq_sync() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    if [[ $cur == -* ]]; then
        COMPREPLY=( $(compgen -W '--help --version' -- "$cur") )
    else
        COMPREPLY=( $(compgen -f -- "$cur") )
    fi
}

_qq() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    if (( COMP_CWORD == 1 )); then
        COMPREPLY=( $(compgen -W 'run info wipe clear sync --help --version' -- "$cur") )
        return
    fi
    # Complete the rest as the tool the sub-command execs.
    local sub=${COMP_WORDS[1]}
    COMP_WORDS=( "qq-$sub" "${COMP_WORDS[@]:2}" )
    (( COMP_CWORD-- ))
    case $sub in
        run) _qq_run ;;
        info) _qq_info ;;
        wipe) _qq_wipe ;;
        clear) _qq_clear ;;
        sync) _qq_sync ;;
        *) COMPREPLY=( $(compgen -f -- "$cur") ) ;;
    esac
}

complete -F _qq_run -o filenames qq-run
complete -F _qq_info -o filenames qq-info
complete -F _qq_wipe -o filenames qq-wipe
complete -F _qq_clear -o dirnames qq-clear
complete -F _qq_sync -o filenames qq-sync
complete -F _qq -o filenames qq
