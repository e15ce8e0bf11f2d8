package runtime

import (
	"slices"
	"testing"
)

func TestScriptCommand(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   []string
	}{
		{"echo hi\n", []string{"/bin/sh", "/s"}},
		{"", []string{"/bin/sh", "/s"}},
		{"#!/bin/bash\necho ${a[@]}\n", []string{"/bin/bash", "/s"}},
		{"#! /bin/bash -e \r\n", []string{"/bin/bash", "-e", "/s"}},
		{"#!/usr/bin/env python3\n", []string{"/usr/bin/env", "python3", "/s"}},
		{"#!/bin/sh -e -x\n", []string{"/bin/sh", "-e -x", "/s"}}, // one argument, as execve(2) has it
		{"#!\t/bin/dash\tx\n", []string{"/bin/dash", "x", "/s"}},
		{"#!\n", []string{"/bin/sh", "/s"}},
		{" #!/bin/bash\n", []string{"/bin/sh", "/s"}},
	} {
		if got := scriptCommand([]byte(tc.script), "/s"); !slices.Equal(got, tc.want) {
			t.Errorf("script %q: %q, want %q", tc.script, got, tc.want)
		}
	}
}
