#!/usr/bin/env bash
# A namespace lab for Vigil: N hosts on one bridge, nothing in the root netns.
#
#   lab.sh up N [--prefix P]   hosts P1..PN (eth0 10.77.0.(10+i)/24, MAC 02:00:00:00:4d:0i,
#                              link-local fe80::ff:fe00:4d0i, no DAD), bridge ns Pbr (br0),
#                              gateway ns Pgw (10.77.0.254); starts with `down`, so idempotent
#   lab.sh down [--prefix P]   kill processes left in the lab namespaces, delete them
#   lab.sh cut HOST            carrier loss: HOST's bridge-side veth goes down
#   lab.sh heal HOST           undo cut
#   lab.sh vip-holders VIP     hosts holding VIP (rc 0 = one, 1 = none, 2 = several)
#   lab.sh exec HOST CMD...    run CMD in HOST's namespace
#   lab.sh status
# HOST is `P3`, `3` or `gw`. The prefix defaults to $LAB_PREFIX or `vg`; the
# host count is kept in /run/vigil-lab/<prefix>.hosts. Any failure during `up`
# tears the half-built lab down again.
set -euo pipefail

PREFIX="${LAB_PREFIX:-vg}"
STATE_DIR=/run/vigil-lab
NET=10.77.0

die() { echo "lab.sh: $*" >&2; exit 1; }

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a value"; PREFIX="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"

BR="${PREFIX}br"
GW="${PREFIX}gw"
hosts_file() { echo "$STATE_DIR/$PREFIX.hosts"; }
count() { cat "$(hosts_file)" 2>/dev/null || echo 0; }

ns_of() {
  case "$1" in
    gw|"$GW") echo "$GW" ;;
    "$PREFIX"[0-9]*) echo "$1" ;;
    [0-9]*) echo "$PREFIX$1" ;;
    *) die "unknown host '$1' (use ${PREFIX}N, N or gw)" ;;
  esac
}
port_of() {  # bridge-side veth of a host namespace
  local ns; ns=$(ns_of "$1")
  if [ "$ns" = "$GW" ]; then echo pgw; else echo "p${ns#"$PREFIX"}"; fi
}

lab_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}([0-9]+|br|gw)$" || true
}

down() {
  local ns pids
  for ns in $(lab_namespaces); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      echo "lab.sh: stopping processes in $ns: $pids" >&2
      kill -TERM $pids 2>/dev/null || true
      sleep 0.5
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f "$(hosts_file)"
}

add_host() {  # ns port addr mac
  local ns=$1 port=$2 addr=$3 mac=$4
  ip netns add "$ns"
  ip -n "$BR" link add "$port" type veth peer name eth0 netns "$ns"
  ip -n "$BR" link set "$port" master br0 up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.eth0.accept_dad=0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 address "$mac"
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
}

up() {
  local n=${1:-}
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "usage: lab.sh up N (1..200)"
  down
  trap 'echo "lab.sh: up failed, cleaning up" >&2; down' ERR
  mkdir -p "$STATE_DIR"
  ip netns add "$BR"
  ip -n "$BR" link set lo up
  ip -n "$BR" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$BR" link set br0 up
  local i
  for i in $(seq 1 "$n"); do
    add_host "$PREFIX$i" "p$i" "$NET.$((10 + i))" "$(printf '02:00:00:00:4d:%02x' "$i")"
  done
  add_host "$GW" pgw "$NET.254" 02:00:00:00:4d:fe
  echo "$n" > "$(hosts_file)"
  trap - ERR
  echo "lab $PREFIX: hosts ${PREFIX}1..${PREFIX}$n on $NET.0/24, gateway $GW ($NET.254), bridge $BR/br0"
}

vip_holders() {
  local vip=${1:-} ns holders=()
  [ -n "$vip" ] || die "usage: lab.sh vip-holders VIP"
  for ns in $(seq 1 "$(count)" | sed "s/^/$PREFIX/") "$GW"; do
    if ip -n "$ns" -o addr show dev eth0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | grep -qxF "$vip"; then
      holders+=("$ns")
    fi
  done
  [ ${#holders[@]} -eq 0 ] || echo "${holders[*]}"
  case ${#holders[@]} in 0) return 1 ;; 1) return 0 ;; *) return 2 ;; esac
}

status() {
  local ns
  for ns in $(lab_namespaces); do
    echo "== $ns"
    ip -n "$ns" -br addr 2>/dev/null | grep -v '^lo ' || true
  done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  cut) [ $# -eq 1 ] || die "usage: lab.sh cut HOST"; ip -n "$BR" link set "$(port_of "$1")" down ;;
  heal) [ $# -eq 1 ] || die "usage: lab.sh heal HOST"; ip -n "$BR" link set "$(port_of "$1")" up ;;
  vip-holders) vip_holders "$@" ;;
  exec) [ $# -ge 2 ] || die "usage: lab.sh exec HOST CMD..."; ns=$(ns_of "$1"); shift; exec ip netns exec "$ns" "$@" ;;
  status) status ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; [ -z "$cmd" ] || exit 2 ;;
esac
