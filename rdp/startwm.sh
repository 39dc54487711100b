#!/bin/sh
# Lucid's xrdp session start script (sesman's DefaultWindowManager), run as the session's
# user. Nothing of the desktop starts before rdp_gate says the session was approved: this
# script only waits in io.lucid.RdpGate1.Wait (rdp_gate draws the waiting screen itself and
# knows the caller from the bus daemon, not from anything said here), then runs the desktop.
# Any answer but "approved", or no answer, ends the session.
set -u
here=$(dirname "$0")
LUCID_BUS=""                       # empty: the system bus
LUCID_DESKTOP="/etc/X11/Xsession"  # what runs once approved
if [ -r "$here/session.env" ]; then
    . "$here/session.env"
fi
if [ -n "$LUCID_BUS" ]; then
    bus="--bus=$LUCID_BUS"
else
    bus="--system"
fi

gate() {
    dbus-send "$bus" --print-reply --reply-timeout=120000 --dest=io.lucid.RdpGate1 \
        /io/lucid/RdpGate1 "io.lucid.RdpGate1.$1"
}

while :; do
    reply=$(gate Wait) || exit 1
    state=$(printf '%s\n' "$reply" | sed -n 's/^ *string "\(.*\)"$/\1/p' | sed -n 2p)
    case "$state" in
        approved) break ;;
        pending) ;;
        *) exit 0 ;;
    esac
done

# shellcheck disable=SC2086  # LUCID_DESKTOP may carry arguments
$LUCID_DESKTOP
gate End >/dev/null 2>&1
exit 0
