# bash completion for the mcrx-core tools (installed by make install)
_mcrx_tools() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} opts
    case $1 in
    *mcrx_send) opts="--interface --source --count --duration --ttl --seq --size --rate --burst --pause --quiet --help" ;;
    *mcrx_doctor) opts="--port --wait --json --help" ;;
    *) opts="--source --exclude --interface --count --timeout --json --stats --stats= --rcvbuf --pcap --help" ;;
    esac
    case $prev in
    --pcap) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --interface) COMPREPLY=($(compgen -W "all $(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
    esac
    [[ $cur == -* ]] && COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _mcrx_tools mcrx_recv mcrx_recv_meta mcrx_uv_recv mcrx_send mcrx_doctor
