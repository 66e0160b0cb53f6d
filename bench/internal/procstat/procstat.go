// Package procstat reads CPU time and memory of processes from /proc (Linux only).
package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of the CPU fields in /proc/<pid>/stat. The kernel
// fixes it at 100 for user space on every architecture Go supports on Linux, and
// reading sysconf(_SC_CLK_TCK) would need cgo.
const clockTick = 10 * time.Millisecond

// times holds the CPU fields of /proc/<pid>/stat, in clock ticks.
type times struct {
	comm                         string
	utime, stime, cutime, cstime int64
}

func readStat(pid int) (times, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return times{}, err
	}
	return parseStat(pid, raw)
}

func parseStat(pid int, raw []byte) (times, error) {
	// comm is in parentheses and may itself contain spaces or ')'.
	open, closing := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
	if open < 0 || closing < open {
		return times{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(raw[closing+1:]))
	// f[0] is field 3 (state); utime..cstime are fields 14..17.
	if len(f) < 15 {
		return times{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	t := times{comm: string(raw[open+1 : closing])}
	for i, dst := range []*int64{&t.utime, &t.stime, &t.cutime, &t.cstime} {
		v, err := strconv.ParseInt(f[11+i], 10, 64)
		if err != nil {
			return times{}, fmt.Errorf("/proc/%d/stat field %d: %w", pid, 14+i, err)
		}
		*dst = v
	}
	return t, nil
}

// CPU is the user plus system CPU time pid has used so far.
func CPU(pid int) (time.Duration, error) {
	t, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return time.Duration(t.utime+t.stime) * clockTick, nil
}

// CommandCPU sums the CPU time of every process whose comm is name, including the time
// of their exited and reaped children. PostgreSQL forks a backend per connection; when a
// backend exits its time moves into the postmaster's cutime/cstime, so the sum never
// goes backwards while connections come and go.
func CommandCPU(name string) (time.Duration, int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, err
	}
	var ticks int64
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		t, err := readStat(pid)
		if err != nil || t.comm != name {
			continue // gone meanwhile, or another program
		}
		ticks += t.utime + t.stime + t.cutime + t.cstime
		n++
	}
	return time.Duration(ticks) * clockTick, n, nil
}

// Memory is what /proc/<pid>/status says about a process's resident memory, in bytes.
type Memory struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the highest resident size so far
}

// ReadMemory reads VmRSS and VmHWM of pid.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.Peak
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
		*dst = kb << 10
	}
	return m, sc.Err()
}

// Executable is the resolved path of the program pid runs.
func Executable(pid int) (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
}

// Machine describes the host the numbers come from.
type Machine struct {
	Hostname    string `json:"hostname"`
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model"`
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
}

// ReadMachine describes this host; fields it cannot read stay empty.
func ReadMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	m.Hostname, _ = os.Hostname()
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m.MemoryBytes = kb << 10
				break
			}
		}
	}
	return m
}

// SameFile reports whether two paths name the same file (symlinks resolved).
func SameFile(a, b string) bool {
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	return errA == nil && errB == nil && ra == rb
}

// MachineBusy is the CPU time all CPUs spent not idle (user, nice, system, irq,
// softirq, steal) since boot, from the first line of /proc/stat.
func MachineBusy() (time.Duration, error) {
	busy, _, err := MachineTimes()
	return busy, err
}

// MachineTimes is the CPU time all CPUs spent busy (user, nice, system, irq, softirq,
// steal) and in total (busy + idle + iowait) since boot, from the first line of
// /proc/stat. Their deltas over an interval give the machine's CPU utilisation.
func MachineTimes() (busy, total time.Duration, err error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var b, all int64
	// user nice system idle iowait irq softirq steal; guest time is already in user.
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		all += n
		if i != 3 && i != 4 { // idle, iowait
			b += n
		}
	}
	return time.Duration(b) * clockTick, time.Duration(all) * clockTick, nil
}

// ListeningPorts returns the TCP ports pid listens on (IPv4 and IPv6), found by
// matching its socket inodes against /proc/<pid>/net/tcp*.
func ListeningPorts(pid int) ([]int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"tcp", "tcp6"} {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(raw)) {
			f := strings.Fields(line)
			// local_address is f[1] (hex ip:port), st is f[3] (0A = LISTEN), inode is f[9].
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil {
				ports = append(ports, int(p))
			}
		}
	}
	return ports, nil
}
