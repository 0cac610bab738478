#!/usr/bin/env bash
# Records the files `llama-pajamas-run hw` reads (docs/HARDWARE.md) from this machine into DEST, so detection can be
# tested elsewhere: `llama-pajamas-run hw --root DEST`. Only hardware descriptions are copied (no process or user
# data): /proc/cpuinfo, /proc/meminfo, /proc/self/cgroup, CPU topology and caches, NUMA nodes, the cgroup's memory and
# CPU limits, DRM device ids, NVIDIA's per-GPU information files and the device-tree model.
# usage: scripts/record_hw_snapshot.sh DEST
set -euo pipefail
dest=${1:?usage: scripts/record_hw_snapshot.sh DEST}
mkdir -p "$dest"
copy() {  # copy a file's content (sysfs/procfs files report size 0, so cp would copy nothing)
  local f=$1
  [ -r "$f" ] || return 0
  mkdir -p "$dest$(dirname "$f")"
  cat "$f" > "$dest$f" 2>/dev/null || rm -f "$dest$f"
}
for f in /proc/cpuinfo /proc/meminfo /proc/self/cgroup /proc/device-tree/model /sys/devices/system/cpu/online \
         /sys/devices/cpu_core/cpus /sys/devices/cpu_atom/cpus /proc/driver/nvidia/version; do copy "$f"; done
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  for f in physical_package_id core_id thread_siblings_list; do copy "$c/topology/$f"; done
done
for i in /sys/devices/system/cpu/cpu0/cache/index*; do
  for f in level type size shared_cpu_list; do copy "$i/$f"; done
done
for n in /sys/devices/system/node/node[0-9]*; do copy "$n/cpulist"; done
for g in /proc/driver/nvidia/gpus/*; do copy "$g/information"; done
for d in /sys/class/drm/card[0-9]*; do
  case $d in *-*) continue ;; esac
  for f in vendor device mem_info_vram_total; do copy "$d/device/$f"; done
done
# The cgroup limits of this process (v1 memory/cpu controllers and the v2 unified hierarchy).
while IFS=: read -r _ ctrls path; do
  case ",$ctrls," in
    *,memory,*) for f in memory.limit_in_bytes memory.usage_in_bytes; do copy "/sys/fs/cgroup/memory$path/$f"; done ;;
  esac
  case ",$ctrls," in
    *,cpu,*) for f in cpu.cfs_quota_us cpu.cfs_period_us; do copy "/sys/fs/cgroup/cpu$path/$f"; done ;;
  esac
  if [ -z "$ctrls" ]; then for f in memory.max memory.current cpu.max; do copy "/sys/fs/cgroup$path/$f"; done; fi
done < /proc/self/cgroup
echo "recorded $(find "$dest" -type f | wc -l) files into $dest"
