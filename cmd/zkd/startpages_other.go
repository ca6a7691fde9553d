//go:build !linux

package main

// releaseStartupPages does nothing where /proc/self/maps is not there.
func releaseStartupPages() (int64, error) { return 0, nil }
