// Package devicerun holds the pure decisions of one device's update run: when to ask a
// silent device where it stands and when to give up on it (Silence), how a report moves
// the run (Progress), and whether a soaking device is still healthy (Soak). The
// OTA_UPDATE_DEVICE workflow calls them; they do no I/O and read no clock.
package devicerun
