#!/usr/bin/env bash
# Drive the real app in tmux like a person would: pick a corpus, train, watch the loss,
# stop, generate from a seed, change the temperature, quit. Every step is checked on
# the screen (capture-pane); the first thing missing fails the run with the screen shown.
#
# Usage: scripts/tmux_session.sh [seconds of training, default 12] [WIDTHxHEIGHT, default 120x40]
# (run it at 80x24 too: the smallest terminal the app promises to work in)
# Needs tmux and the installed `charrnn-tui`. Uses a throwaway data home, never yours.
set -euo pipefail

TRAIN_SECONDS=${1:-12}
SIZE=${2:-120x40}
COLS=${SIZE%x*}
ROWS=${SIZE#*x}
SESSION="charrnn-check-$$"
WORK=$(mktemp -d)
export CHARRNN_TUI_HOME="$WORK/home"
export CHARRNN_TUI_CONFIG="$WORK/config"  # nor your saved session

command -v tmux >/dev/null || { echo "tmux is not installed" >&2; exit 2; }
command -v charrnn-tui >/dev/null || { echo "charrnn-tui is not installed" >&2; exit 2; }

cleanup() {
    tmux kill-session -t "$SESSION" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

screen() { tmux capture-pane -p -t "$SESSION"; }

fail() {
    echo "FAIL: $*" >&2
    echo "----- screen -----" >&2
    screen >&2
    exit 1
}

# wait_for PATTERN SECONDS: until the screen shows PATTERN (an extended regex)
wait_for() {
    local deadline=$((SECONDS + $2))
    until screen | grep -Eq -- "$1"; do
        ((SECONDS < deadline)) || fail "did not see /$1/ within $2 s"
        sleep 0.2
    done
    echo "ok: $1"
}

keys() { tmux send-keys -t "$SESSION" "$@"; sleep 0.3; }

# The pane outlives the app so a traceback and the exit status stay readable.
tmux new-session -d -s "$SESSION" -x "$COLS" -y "$ROWS" -e "CHARRNN_TUI_HOME=$CHARRNN_TUI_HOME" \
    -e "CHARRNN_TUI_CONFIG=$CHARRNN_TUI_CONFIG" \
    "charrnn-tui; echo \"app exited with status \$?\"; sleep 120"

wait_for "charrnn-tui" 30
wait_for "Corpus +Train +Playground +Models" 5

# Corpus: the first built-in (Python documentation) is highlighted; Enter loads it.
keys F2
wait_for "Choose a corpus" 5
keys Enter
wait_for "Loaded: builtin:python-docs" 30
wait_for "Vocabulary +[0-9]+ distinct characters" 5

# Train with the default preset; the loss curve and speed appear, then Stop saves.
keys F3
wait_for "Corpus builtin:python-docs" 5
keys F6
wait_for "chars/s" 60
wait_for "chunk [0-9,]+ of [0-9,]+, epoch 1" 10
sleep "$TRAIN_SECONDS"
screen | grep -Eq "loss [0-9.]+ nats" || fail "no training loss shown"
# The chart shows the curve, not only the reference lines: its legend names it, and the
# braille has the shapes of a falling line (a flat reference line is one or two kinds).
wait_for "━ train" 5
kinds=$(screen | python3 -c "import sys; print(len({c for c in sys.stdin.read() if '⠁' <= c <= '⣿'}))")
((kinds >= 6)) || fail "the loss chart shows no curve ($kinds kinds of braille)"
echo "ok: the loss chart draws the curve ($kinds kinds of braille)"
keys F8
wait_for "stopped at step [0-9,]+" 60
wait_for "saved as python-docs-lstm-2x256" 5
[[ -f "$CHARRNN_TUI_HOME/models/python-docs-lstm-2x256/last.safetensors" ]] \
    || fail "the model file was not saved"

# Playground: the trained model is loaded; type a seed (a / in the seed box is a slash),
# Enter streams text.
keys F4
wait_for "Model python-docs-lstm-2x256" 10
keys -l "The /"
wait_for "^ The / " 5
keys BSpace
keys Enter
wait_for "generating" 10
keys "]" "]" "]" "]"
wait_for "Temperature 1\.00" 5
wait_for "[0-9,]+ characters, the length set; F6 continues" 60
screen | grep -q "The " || fail "the seed is not in the output"

# A typed temperature: / back to the seed box, Tab to the gauge (rng, Generate, Regenerate),
# then type it.
keys /
keys Tab Tab Tab Tab
keys -l "1.3"
keys Enter
wait_for "Temperature 1\.30" 5

# A stop string behind More (ctrl+t opens it; from the gauge: speed, preset, top-k, top-p,
# min-p, length, argmax, the More line, stop); collapsed, the More line shows it.
keys C-t
wait_for "▼ More" 5  # open before the Tabs: hidden fields are not in the Tab order
keys Tab Tab Tab Tab Tab Tab Tab Tab Tab
keys -l '\n\n'
keys C-t
wait_for "More: stop \\\\n\\\\n" 5

# Models: the new model is listed next to the shipped one.
keys F5
wait_for "python-docs-lstm-2x256" 5

# Quit: the app ends cleanly, without a traceback.
keys C-q
wait_for "app exited with status 0" 15
if screen | grep -q "Traceback"; then fail "traceback on the screen"; fi

# Reopen: back on the Models tab, with the trained model loaded in the Playground, the
# typed temperature and the stop string (named on the collapsed More line).
tmux kill-session -t "$SESSION"
while tmux has-session -t "$SESSION" 2>/dev/null; do sleep 0.1; done
sleep 0.5  # the tmux server may still be exiting with its last session
tmux new-session -d -s "$SESSION" -x "$COLS" -y "$ROWS" -e "CHARRNN_TUI_HOME=$CHARRNN_TUI_HOME" \
    -e "CHARRNN_TUI_CONFIG=$CHARRNN_TUI_CONFIG" \
    "charrnn-tui; echo \"app exited with status \$?\"; sleep 120"
wait_for "charrnn-tui — python-docs-lstm-2x256" 30
wait_for "Name +Model +(Params +)?Corpus" 5
keys F4
wait_for "Temperature 1\.30" 5
wait_for "More: stop \\\\n\\\\n" 5

# Resume after reopening: Train still continues the trained model, past its last step.
keys F3
wait_for "Resume python-docs-lstm-2x256" 30
saved_step() {  # the step the saved model file records
    charrnn-tui models show python-docs-lstm-2x256 \
        | python3 -c "import json, sys; print(json.load(sys.stdin)['state']['step'])"
}
step=$(saved_step)
wait_for "Corpus builtin:python-docs" 30
keys F6
wait_for "chars/s" 60
sleep 3
keys F8
wait_for "stopped at step [0-9,]+" 60
after=$(saved_step)
((after > step)) || fail "resume did not continue past step $step (stopped at $after)"
echo "ok: resumed from step $step to step $after"

keys C-q
wait_for "app exited with status 0" 15
echo "PASS ($SIZE): corpus → train (the curve) → playground (/, a typed temperature, a stop" \
     "string) → models → quit → reopen (all still there) → resume"
