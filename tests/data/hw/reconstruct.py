#!/usr/bin/env python3
"""Writes the reconstructed machine snapshots of tests/data/hw (see README.md there): machines this project has no
access to, written file by file in the formats the Linux kernel documents (Documentation/ABI for sysfs, proc(5),
cgroup v1/v2 docs, NVIDIA's /proc/driver/nvidia interface), with the values the vendors publish for that part.
Run from anywhere: python3 tests/data/hw/reconstruct.py (idempotent; the recorded snapshot is not touched)."""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def write(root, path, text):
    p = os.path.join(HERE, root, path.lstrip("/"))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)


def meminfo(total_kb, avail_kb):
    return f"MemTotal:       {total_kb} kB\nMemFree:        {avail_kb - 1048576} kB\nMemAvailable:   {avail_kb} kB\n"


def x86_cpuinfo(n, vendor, family, model, name, flags, core_ids, phys_ids, siblings, cores):
    out = []
    for i in range(n):
        out.append(f"processor\t: {i}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
                   f"model name\t: {name}\nphysical id\t: {phys_ids[i]}\nsiblings\t: {siblings}\n"
                   f"core id\t\t: {core_ids[i]}\ncpu cores\t: {cores}\nflags\t\t: {flags}\n\n")
    return "".join(out)


def arm_cpuinfo(n, features, implementer, variant, part):
    return "".join(f"processor\t: {i}\nBogoMIPS\t: 50.00\nFeatures\t: {features}\nCPU implementer\t: {implementer}\n"
                   f"CPU architecture: 8\nCPU variant\t: {variant}\nCPU part\t: {part}\nCPU revision\t: 1\n\n"
                   for i in range(n))


def topology(root, core_ids, pkg_ids):
    n = len(core_ids)
    write(root, "/sys/devices/system/cpu/online", f"0-{n - 1}\n")
    for i in range(n):
        write(root, f"/sys/devices/system/cpu/cpu{i}/topology/core_id", f"{core_ids[i]}\n")
        write(root, f"/sys/devices/system/cpu/cpu{i}/topology/physical_package_id", f"{pkg_ids[i]}\n")


def caches(root, levels):
    for i, (level, typ, size, shared) in enumerate(levels):
        d = f"/sys/devices/system/cpu/cpu0/cache/index{i}/"
        write(root, d + "level", f"{level}\n")
        write(root, d + "type", f"{typ}\n")
        write(root, d + "size", f"{size}\n")
        write(root, d + "shared_cpu_list", f"{shared}\n")


def nodes(root, lists):
    for i, l in enumerate(lists):
        write(root, f"/sys/devices/system/node/node{i}/cpulist", l + "\n")


def cgroup2(root, path="/", mem_max="max", mem_current=None, cpu_max="max 100000"):
    write(root, "/proc/self/cgroup", f"0::{path}\n")
    base = "/sys/fs/cgroup" + ("" if path == "/" else path)
    write(root, base + "/memory.max", mem_max + "\n")
    if mem_current is not None:
        write(root, base + "/memory.current", f"{mem_current}\n")
    write(root, base + "/cpu.max", cpu_max + "\n")


def reset(root):
    shutil.rmtree(os.path.join(HERE, root, "proc"), ignore_errors=True)
    shutil.rmtree(os.path.join(HERE, root, "sys"), ignore_errors=True)


X86_AVX2 = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht "
            "syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe "
            "popcnt aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch bmi1 avx2 smep bmi2 erms invpcid rdseed adx "
            "smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves")

# 1. Intel Core i7-12700 (Alder Lake): 8 P-cores with Hyper-Threading (CPUs 0-15) + 4 E-cores (CPUs 16-19), AVX2 +
#    AVX-VNNI, no AVX-512 (fused off), 32 GB DDR5, Intel UHD 770 iGPU, desktop systemd cgroup v2 without limits.
r = "intel-hybrid-i7-12700"
reset(r)
p_core_ids = [c for k in range(8) for c in (4 * k, 4 * k)]
e_core_ids = [32, 33, 34, 35]
ids = p_core_ids + e_core_ids
write(r, "/proc/cpuinfo", x86_cpuinfo(20, "GenuineIntel", 6, 151, "12th Gen Intel(R) Core(TM) i7-12700",
                                      X86_AVX2 + " avx_vnni", ids, [0] * 20, 20, 12))
topology(r, ids, [0] * 20)
write(r, "/sys/devices/cpu_core/cpus", "0-15\n")
write(r, "/sys/devices/cpu_atom/cpus", "16-19\n")
caches(r, [(1, "Data", "48K", "0-1"), (1, "Instruction", "32K", "0-1"), (2, "Unified", "1280K", "0-1"),
           (3, "Unified", "25600K", "0-19")])
nodes(r, ["0-19"])
write(r, "/proc/meminfo", meminfo(32_617_000, 28_400_000))
cgroup2(r, "/user.slice/user-1000.slice/session-2.scope")
write(r, "/sys/class/drm/card0/device/vendor", "0x8086\n")
write(r, "/sys/class/drm/card0/device/device", "0x4680\n")

# 2. AWS Graviton3 (c7g.16xlarge): 64 Neoverse-V1 cores, no SMT, SVE 256-bit + dot products + i8mm + bf16, 128 GiB.
r = "arm-graviton3-64core"
reset(r)
feat = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 "
        "sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm svebf16 i8mm bf16 "
        "dgh rng")
write(r, "/proc/cpuinfo", arm_cpuinfo(64, feat, "0x41", "0x1", "0xd40"))
topology(r, list(range(64)), [0] * 64)
caches(r, [(1, "Data", "64K", "0"), (1, "Instruction", "64K", "0"), (2, "Unified", "1024K", "0"),
           (3, "Unified", "32768K", "0-63")])
nodes(r, ["0-63"])
write(r, "/proc/meminfo", meminfo(130_000_000, 126_000_000))
cgroup2(r)

# 3. NVIDIA Jetson AGX Orin 32GB developer kit: 8 Cortex-A78AE cores (no SVE), integrated Ampere GPU sharing the
#    32 GB LPDDR5, identified by the device tree.
r = "jetson-agx-orin-32gb"
reset(r)
feat = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp uscat "
        "ilrcpc flagm paca pacg")
write(r, "/proc/cpuinfo", arm_cpuinfo(8, feat, "0x41", "0x1", "0xd42"))
topology(r, [0, 1, 2, 3, 0, 1, 2, 3], [0, 0, 0, 0, 1, 1, 1, 1])
caches(r, [(1, "Data", "64K", "0"), (1, "Instruction", "64K", "0"), (2, "Unified", "256K", "0"),
           (3, "Unified", "2048K", "0-3")])
nodes(r, ["0-7"])
write(r, "/proc/meminfo", meminfo(31_000_000, 27_500_000))
write(r, "/proc/device-tree/model", "NVIDIA Jetson AGX Orin Developer Kit\0")
cgroup2(r)

# 4. A container on a 64 GiB host (cgroup v2, namespaced: /proc/self/cgroup says "0::/"): memory.max 2 GiB of which
#    1.9 GiB are already used by other processes of the container, and a CPU quota of 2 cores on a 4-core VM.
r = "container-2gib-cgroup2"
reset(r)
write(r, "/proc/cpuinfo", x86_cpuinfo(4, "AuthenticAMD", 25, 1, "AMD EPYC 7R13 Processor",
                                      X86_AVX2 + " avx512f", [0, 1, 0, 1], [0, 0, 0, 0], 4, 2))
topology(r, [0, 1, 0, 1], [0, 0, 0, 0])
nodes(r, ["0-3"])
write(r, "/proc/meminfo", meminfo(65_000_000, 60_000_000))
cgroup2(r, "/", "2147483648", 2040109465, "200000 100000")

# 5. A cloud GPU host: 16 vCPUs of a Xeon Platinum 8480+ (Sapphire Rapids: AVX-512 VNNI/BF16, AMX), 128 GiB, one
#    NVIDIA H100 80GB as the NVIDIA driver lists it under /proc/driver/nvidia/gpus.
r = "nvidia-h100-host"
reset(r)
flags = X86_AVX2 + " avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8"
write(r, "/proc/cpuinfo", x86_cpuinfo(16, "GenuineIntel", 6, 143, "Intel(R) Xeon(R) Platinum 8480+", flags,
                                      [c for k in range(8) for c in (k, k)], [0] * 16, 16, 8))
topology(r, [c for k in range(8) for c in (k, k)], [0] * 16)
caches(r, [(1, "Data", "48K", "0-1"), (1, "Instruction", "32K", "0-1"), (2, "Unified", "2048K", "0-1"),
           (3, "Unified", "107520K", "0-15")])
nodes(r, ["0-15"])
write(r, "/proc/meminfo", meminfo(132_000_000, 128_000_000))
cgroup2(r)
write(r, "/proc/driver/nvidia/version",
      "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n")
write(r, "/proc/driver/nvidia/gpus/0000:00:05.0/information",
      "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 40\nGPU UUID: \t GPU-00000000-0000-0000-0000-000000000000\n"
      "Video BIOS: \t 96.00.74.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\nDMA Mask: \t 0xfffffffffffff\n"
      "Bus Location: \t 0000:00:05.0\nDevice Minor: \t 0\nGPU Excluded:\t No\n")
print("reconstructed snapshots written under", HERE)
