package main

import "testing"

func TestServingProcsAddsOneUnlessTheOperatorChose(t *testing.T) {
	for _, c := range []struct {
		def  int
		env  string
		want int
	}{{1, "", 2}, {2, "", 3}, {8, "", 9}, {2, "2", 2}, {4, "1", 4}} {
		if got := servingProcs(c.def, c.env); got != c.want {
			t.Errorf("servingProcs(%d, %q) = %d, want %d", c.def, c.env, got, c.want)
		}
	}
}
