#!/usr/bin/env bash
# Runs one command inside Debian's stock kernel under qemu (TCG) and returns
# its exit status, stdout and stderr. The guest sees the host's `/`
# read-only over virtio-9p, so host binaries (ipvsadm, cargo test binaries)
# run unchanged against a real kernel with IPVS modules.
#
#   tests/vm/kvm-run.sh 'ipvsadm -A -t 10.0.0.1:80 -s rr && ipvsadm -Ln'   # bash -c form
#   tests/vm/kvm-run.sh /path/to/test-binary --test-threads=1               # argv form
#
# Environment:
#   KVM_RUN_TIMEOUT  seconds before the VM is killed (default 600; exit 124)
#   KVM_RUN_MODULES  modules modprobed before the command (default "ip_vs")
#   KVM_RUN_CACHE    directory keeping the extracted vmlinux between runs
#   KVM_RUN_MEM      guest memory (default 512M)
#   KVM_RUN_KERNEL   kernel version to boot (default: newest with ip_vs)
#   KVM_RUN_ENV=0    do not pass the caller's exported environment
#   KVM_RUN_DEBUG=1  keep the work directory and print its path
# Inside the guest KVM_RUN_GUEST=1 is set. Exit status: the command's; 124
# on timeout; 125 when the VM stopped without reporting (console tail shown);
# 126 when a prerequisite is missing.
#
# Packages: see tests/vm/packages (qemu-system-x86 linux-image-amd64
# busybox-static ipvsadm). The guest has no NIC: addresses are only written
# into kernel tables. `lo` is brought up because IPVS refuses IPv4 real
# servers while the namespace has no routes (EINVAL "address not unicast").
set -euo pipefail

die() { echo "kvm-run: $*" >&2; exit 126; }

[ $# -ge 1 ] || die "usage: kvm-run.sh 'shell command' | kvm-run.sh program [args...]"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
[ -x /bin/busybox ] || die "/bin/busybox not found (apt-get install busybox-static)"
command -v modinfo >/dev/null || die "modinfo not found (apt-get install kmod)"

TIMEOUT=${KVM_RUN_TIMEOUT:-600}
MODULES=${KVM_RUN_MODULES-ip_vs}
MEM=${KVM_RUN_MEM:-512M}

# --- pick the kernel ---------------------------------------------------------
KVER=${KVM_RUN_KERNEL:-}
if [ -z "$KVER" ]; then
    for img in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
        v=${img#/boot/vmlinuz-}
        if modinfo -k "$v" -F filename ip_vs >/dev/null 2>&1; then KVER=$v; break; fi
    done
fi
[ -n "$KVER" ] || die "no /boot/vmlinuz-* with an ip_vs module (apt-get install linux-image-amd64)"
BZIMAGE=/boot/vmlinuz-$KVER
[ -r "$BZIMAGE" ] || die "$BZIMAGE is not readable"

WORK=$(mktemp -d /tmp/kvm-run.XXXXXX)
QEMU_PID=
cleanup() {
    if [ -n "$QEMU_PID" ]; then kill "$QEMU_PID" 2>/dev/null || true; fi
    if [ "${KVM_RUN_DEBUG:-0}" = 1 ]; then echo "kvm-run: work dir $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- PVH fast boot: decompress the kernel on the host -------------------------
# QEMU boots an uncompressed ELF through its PVH entry, which skips the slow
# in-guest decompression under TCG.
extract_vmlinux() {
    local out=$1 off tmp=$1.$$.tmp # per-process name: runs may share the cache
    off=$(LC_ALL=C grep -abo -P '\xfd7zXZ\x00' "$BZIMAGE" | head -n1 | cut -d: -f1) || return 1
    [ -n "$off" ] || return 1
    tail -c +"$((off + 1))" "$BZIMAGE" | xz -dc >"$tmp" 2>/dev/null || true
    # Trailing data after the xz stream makes xz complain; the ELF is complete.
    [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || { rm -f "$tmp"; return 1; }
    if command -v readelf >/dev/null && ! readelf -n "$tmp" 2>/dev/null | grep -q 'Xen'; then
        rm -f "$tmp"; return 1 # no PVH note
    fi
    mv "$tmp" "$out"
}
KERNEL=$BZIMAGE
if [ "${KVM_RUN_PVH:-1}" = 1 ]; then
    if [ -n "${KVM_RUN_CACHE:-}" ]; then
        mkdir -p "$KVM_RUN_CACHE"
        cached=$KVM_RUN_CACHE/vmlinux-$KVER
        if [ -s "$cached" ] || extract_vmlinux "$cached"; then KERNEL=$cached; fi
    elif extract_vmlinux "$WORK/vmlinux"; then
        KERNEL=$WORK/vmlinux
    fi
fi

# --- initramfs: busybox, the modules to reach 9p, /init -----------------------
ROOT=$WORK/initramfs
mkdir -p "$ROOT"/{bin,dev,proc,sys,host,xfer,mods,upper}
cp /bin/busybox "$ROOT/bin/busybox"
: >"$ROOT/mods/order"
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
         netfs fscache 9pnet 9pnet_virtio 9p overlay; do
    f=$(modinfo -k "$KVER" -F filename "$m" 2>/dev/null) || continue # built in
    case "$f" in
        *.ko) cp "$f" "$ROOT/mods/$m.ko" ;;
        *.ko.xz) xz -dc "$f" >"$ROOT/mods/$m.ko" ;;
        *.ko.zst) zstd -qdc "$f" >"$ROOT/mods/$m.ko" ;;
        *.ko.gz) gzip -dc "$f" >"$ROOT/mods/$m.ko" ;;
        *) continue ;;
    esac
    echo "$m" >>"$ROOT/mods/order"
done
cat >"$ROOT/bin/modprobe-host" <<'EOF'
#!/bin/busybox sh
exec /bin/busybox chroot /host /sbin/modprobe "$@"
EOF
cat >"$ROOT/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m.ko 2>/dev/null; done
o=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $o,ro,cache=loose hostroot /host || { echo "kvm-run: cannot mount host root" >/dev/console; reboot -f; }
mount -t 9p -o $o xfer /xfer
for d in proc sys dev; do mount --bind /$d /host/$d; done
mount -t devpts devpts /host/dev/pts 2>/dev/null
mount -t tmpfs tmpfs /host/dev/shm 2>/dev/null
mount -t tmpfs tmpfs /upper && mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/host/tmp,upperdir=/upper/u,workdir=/upper/w /host/tmp || mount -t tmpfs tmpfs /host/tmp
mount -t tmpfs tmpfs /host/run
mount -t tmpfs tmpfs /host/var/tmp
mkdir -p /host/run/kvm-run && mount --bind /xfer /host/run/kvm-run
echo /bin/modprobe-host >/proc/sys/kernel/modprobe
ip link set lo up
chroot /host /bin/bash /run/kvm-run/cmd.sh >/xfer/stdout 2>/xfer/stderr
echo $? >/xfer/rc
sync
reboot -f
EOF
chmod +x "$ROOT/init" "$ROOT/bin/modprobe-host"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initrd.gz"

# --- the command, its environment and working directory ------------------------
XFER=$WORK/xfer
mkdir -p "$XFER"
{
    echo '# generated by kvm-run.sh'
    if [ "${KVM_RUN_ENV:-1}" != 0 ]; then
        export -p | grep -v -E '^declare -x (PWD|OLDPWD|SHLVL|_|TMPDIR|XDG_RUNTIME_DIR)='
    fi
    echo 'export KVM_RUN_GUEST=1 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}'
    printf 'cd %q 2>/dev/null || { echo "kvm-run: cwd %q not visible in the guest; using /" >&2; cd /; }\n' "$PWD" "$PWD"
    for m in $MODULES; do printf 'modprobe %q || echo "kvm-run: modprobe %q failed" >&2\n' "$m" "$m"; done
    if [ $# -eq 1 ] && ! [ -x "$1" ]; then
        printf 'exec bash -c %q\n' "$1"
    else
        printf 'exec'; printf ' %q' "$@"; printf '\n'
    fi
} >"$XFER/cmd.sh"

APPEND="console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init"
[ "${KVM_RUN_CPUS:-1}" = 1 ] && APPEND="$APPEND acpi=off"

timeout --foreground "$TIMEOUT" qemu-system-x86_64 \
    -machine pc -accel "${KVM_RUN_ACCEL:-tcg}" -cpu max -smp "${KVM_RUN_CPUS:-1}" -m "$MEM" \
    -nodefaults -no-reboot -display none -monitor none \
    -kernel "$KERNEL" -initrd "$WORK/initrd.gz" -append "$APPEND" \
    -serial "file:$WORK/console.log" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot" \
    -virtfs "local,path=$XFER,mount_tag=xfer,security_model=none,id=xfer" \
    >"$WORK/qemu.log" 2>&1 &
QEMU_PID=$!
set +e
wait "$QEMU_PID"
qrc=$?
set -e
QEMU_PID=

[ -f "$XFER/stdout" ] && cat "$XFER/stdout"
[ -f "$XFER/stderr" ] && cat "$XFER/stderr" >&2
if [ -s "$XFER/rc" ]; then
    exit "$(cat "$XFER/rc")"
fi
if [ "$qrc" = 124 ]; then
    echo "kvm-run: timed out after ${TIMEOUT}s" >&2
    exit 124
fi
echo "kvm-run: the VM stopped without reporting (qemu exit $qrc)" >&2
echo "--- qemu ---" >&2; tail -n 20 "$WORK/qemu.log" >&2 || true
echo "--- console ---" >&2; tail -n 40 "$WORK/console.log" >&2 || true
exit 125
