# Type WORDS<TAB> into a real interactive zsh (reading $HOME/.zshrc) and print the line zsh completed.
# usage: zsh capture.zsh OUTFILE WORDS...
zmodload zsh/zpty
out=$1; shift
rm -f $out
zpty z zsh -i
zpty -w z "dump() { print -r -- \"\$BUFFER\" > $out }; zle -N dump; bindkey '^X' dump"
zpty -n -w z "$*"$'\t\x18'
for i in {1..150}; do [[ -s $out ]] && break; sleep 0.1; done
zpty -d z
cat $out
