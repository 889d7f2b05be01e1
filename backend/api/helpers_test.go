package api_test

import "time"

func waitABit() { time.Sleep(100 * time.Millisecond) }
