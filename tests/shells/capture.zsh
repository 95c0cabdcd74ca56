# Type WORDS<TAB> into a real interactive zsh with deconv's completion and print the line zsh completed.
# usage: zsh capture.zsh COMPLETIONS_DIR OUTFILE WORDS...
zmodload zsh/zpty
dir=$1 out=$2; shift 2
rm -f $out
zpty z zsh -f -i
zpty -w z "fpath=($dir \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "dump() { print -r -- \"\$BUFFER\" > $out }; zle -N dump; bindkey '^X' dump"
zpty -n -w z "$*"$'\t\x18'
for i in {1..150}; do [[ -s $out ]] && break; sleep 0.1; done
zpty -d z
cat $out
