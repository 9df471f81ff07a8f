package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custos-dev/custos/internal/natsrv"
)

// flagSet is a flag.FlagSet whose flags also read CUSTOS_<NAME> from the
// environment (flag wins over environment, environment over default).
type flagSet struct {
	*flag.FlagSet
	usage string
}

func newFlags(name, usage string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), usage: usage}
	fs.FlagSet.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, strings.TrimLeft(usage, "\n"))
		fmt.Fprintln(out, "\nFlags (each also read from the environment variable shown):")
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				def = " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(out, "  --%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	return fs
}

func envName(flagName string) string {
	return "CUSTOS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		return v
	}
	return def
}

func (fs *flagSet) String(name, def, usage string) *string {
	return fs.FlagSet.String(name, env(name, def), usage)
}

func (fs *flagSet) Int(name string, def int, usage string) *int {
	v := def
	if s := env(name, ""); s != "" {
		if _, err := fmt.Sscan(s, &v); err != nil {
			fatalf("environment %s: %q is not an integer", envName(name), s)
		}
	}
	return fs.FlagSet.Int(name, v, usage)
}

func (fs *flagSet) Uint64(name string, def uint64, usage string) *uint64 {
	v := def
	if s := env(name, ""); s != "" {
		if _, err := fmt.Sscan(s, &v); err != nil {
			fatalf("environment %s: %q is not an unsigned integer", envName(name), s)
		}
	}
	return fs.FlagSet.Uint64(name, v, usage)
}

func (fs *flagSet) Bool(name string, def bool, usage string) *bool {
	v := def
	if s := env(name, ""); s != "" {
		v = s == "1" || strings.EqualFold(s, "true") || strings.EqualFold(s, "yes")
	}
	return fs.FlagSet.Bool(name, v, usage)
}

func (fs *flagSet) Duration(name string, def time.Duration, usage string) *time.Duration {
	v := def
	if s := env(name, ""); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			fatalf("environment %s: %q is not a duration (like 10s)", envName(name), s)
		}
		v = d
	}
	return fs.FlagSet.Duration(name, v, usage)
}

// parse parses args, exiting with status 2 on a usage error (0 on -h).
func (fs *flagSet) parse(args []string) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(2)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "custos: "+format+"\n", args...)
	os.Exit(1)
}

// positional parses args with flags allowed before, between and after the
// positional arguments, and returns the positional ones.
func (fs *flagSet) positional(args []string) []string {
	var pos []string
	for len(args) > 0 {
		fs.parse(args)
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	return pos
}

// natsCredsFlags are the flags of a NATS client subcommand.
type natsCredsFlags struct {
	creds, ca *string
}

func addNATSCredsFlags(fs *flagSet) natsCredsFlags {
	return natsCredsFlags{
		creds: fs.String("nats-creds", "./custos-data/nats-admin.nk", "NATS credentials: an nkey seed (custos nkey; custos run writes the local admin's under --data) or a JWT .creds file"),
		ca:    fs.String("nats-ca", "", "CA certificate (PEM) of a NATS server with TLS"),
	}
}

func (f natsCredsFlags) options() []nats.Option {
	var opts []nats.Option
	if *f.creds != "" {
		o, err := natsrv.CredsOption(*f.creds)
		if err != nil {
			fatalf("%v (custos run writes the local admin's key to --data/nats-admin.nk; pass --nats-creds)", err)
		}
		opts = append(opts, o)
	}
	if *f.ca != "" {
		opts = append(opts, nats.RootCAs(*f.ca))
	}
	return opts
}

// inputRetention is what --input-retention asks of stream CUSTOS_INPUT.
type inputRetention struct {
	applied bool          // purge input once applied and acknowledged
	age     time.Duration // the stream's MaxAge; 0: none
}

// parseInputRetention parses "applied", "0" (keep all) or a positive
// duration.
func parseInputRetention(s string) (inputRetention, error) {
	switch strings.TrimSpace(s) {
	case "applied":
		return inputRetention{applied: true}, nil
	case "", "0":
		return inputRetention{}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return inputRetention{}, fmt.Errorf("%q: want \"applied\", a positive duration (e.g. 168h) or 0 to keep all input", s)
	}
	return inputRetention{age: d}, nil
}
