package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// env is what a command may touch of the outside world. Tests build one by hand.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one top-level subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every top-level subcommand. Each group lives in a file of its own.
func commands() map[string]command {
	return map[string]command{
		"init":        {"create the database and the signing secret (safe to repeat)", cmdInit},
		"backup":      {"write a consistent copy of the database to a file", cmdBackup},
		"subscribers": {"add, list, import, export, unsubscribe and remove subscribers", cmdSubscribers},
		"links":       {"queue curated links for the next issue", cmdLinks},
		"feeds":       {"manage and fetch the feeds the newsletter follows", cmdFeeds},
		"digest":      {"build, shape, preview and send the next issue", cmdDigest},
		"issues":      {"list sent issues and their delivery counts", cmdIssues},
		"web":         {"run the subscriber web server alone", cmdWeb},
		"serve":       {"run the daemon: web server, feed refresh and the weekly send", cmdServe},
		"status":      {"show what the daemon will do next", cmdStatus},
		"demo":        {"run the whole pipeline offline in a new folder", cmdDemo},
	}
}

// run is the whole program; main only adds signals and the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout, cmds)
		if len(args) == 0 {
			return usageError{errors.New("no command given")}
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		return usageError{fmt.Errorf("unknown command %q (run 'weekly help' for the list)", args[0])}
	}
	return c.run(ctx, e, args[1:])
}

func printUsage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "Usage: weekly COMMAND [ARGS] [FLAGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'weekly COMMAND --help' for a command's flags. Every flag has a WEEKLY_* environment fallback.")
}

// usageError marks a mistake in how a command was called; main exits 2 for it.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// errHelp is returned by parseFlags when the user asked for --help; the usage has been
// printed and the command should return nil.
var errHelp = flag.ErrHelp

// flagSet is a flag.FlagSet that prints its help once, to stdout, only when asked.
type flagSet struct {
	*flag.FlagSet
	help func()
}

// newFlagSet returns a flag set for "weekly USAGE". Mistakes come back as one-line
// usageErrors from parseFlags; --help prints the flags to e.stdout.
func newFlagSet(e *env, name, usage string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	help := func() {
		fmt.Fprintf(e.stdout, "Usage: weekly %s\n\nFlags:\n", usage)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return &flagSet{FlagSet: fs, help: help}
}

// parseFlags parses args with flags allowed anywhere, before or after positional
// arguments ("add a@b.c --name Ann"), and returns the positional ones. "--" ends flags.
func parseFlags(fs *flagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return nil, errHelp
			}
			return nil, usageError{fmt.Errorf("%s: %w", fs.Name(), err)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stops at the first positional argument, or just after "--".
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(fs *flagSet, pos []string, min, max int, what string) error {
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return usageError{fmt.Errorf("%s: expected %s, got %d argument(s)", fs.Name(), what, len(pos))}
	}
	return nil
}

// subcommand dispatches args[0] among subs, for command groups like "subscribers add".
func subcommand(ctx context.Context, e *env, group string, args []string, subs map[string]command) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(e.stdout, "Usage: weekly %s SUBCOMMAND [ARGS] [FLAGS]\n\nSubcommands:\n", group)
		for _, n := range names {
			fmt.Fprintf(e.stdout, "  %-12s %s\n", n, subs[n].summary)
		}
		if len(args) == 0 {
			return usageError{fmt.Errorf("%s: no subcommand given (one of %s)", group, strings.Join(names, ", "))}
		}
		return nil
	}
	c, ok := subs[args[0]]
	if !ok {
		return usageError{fmt.Errorf("%s: unknown subcommand %q (run 'weekly %s --help')", group, args[0], group)}
	}
	return c.run(ctx, e, args[1:])
}
