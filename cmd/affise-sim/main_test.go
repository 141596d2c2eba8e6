package main

import (
	"io"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/affisesim"
)

// The help text describes every path the simulator serves and names
// every data set /_sim/truth serves.
func TestUsageNamesEverything(t *testing.T) {
	u := usage()
	for _, p := range affisesim.Endpoints() {
		if !strings.Contains(u, "GET "+p+" ") {
			t.Errorf("usage does not describe %s", p)
		}
	}
	for _, s := range affisesim.Streams() {
		if !strings.Contains(u, " "+s) {
			t.Errorf("usage does not name the truth stream %s", s)
		}
	}
	for _, c := range []string{"GET /3.0/admin/currency ", "POST /_sim/churn?n=N&min_age=", "GET  /_sim/truth/currency_rates ",
		"POST /_sim/hide-once?", "GET  /_sim/hide-once ", "GET  /_sim/networks ", "http://ADDR/a/3.0/", "--NAME.FLAG"} {
		if !strings.Contains(u, c) {
			t.Errorf("usage does not describe %s", c)
		}
	}
	if strings.Contains(u, "%!") {
		t.Errorf("usage has a formatting error:\n%s", u)
	}
}

func mustParse(t *testing.T, env map[string]string, args ...string) *options {
	t.Helper()
	o, err := parse(args, io.Discard, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return o
}

// Without --networks the flags make the one simulator they always made.
func TestParseOneNetwork(t *testing.T) {
	o := mustParse(t, map[string]string{"AFFISE_SIM_KEY": "k1"}, "--seed", "7", "--timezone", "America/New_York", "--fault-kinds", "")
	if o.nets != nil || o.single.Key != "k1" || o.single.Seed != 7 || o.single.Variant != 0 || o.single.Timezone != "America/New_York" ||
		o.single.FaultKinds == nil || len(o.single.FaultKinds) != 0 || formatCurrencies(o.single.Currencies) != "USD:70,EUR:20,RUB:10" ||
		o.single.Conversions != 10000 || o.addr != "127.0.0.1:8089" {
		t.Errorf("%+v", o.single)
	}
}

// Every network gets the shared flags, its own variant, zone and
// currencies unless set, and its --NAME.FLAG values.
func TestParseNetworks(t *testing.T) {
	o := mustParse(t, nil, "--key", "shared", "--seed", "7", "--conversions", "300", "--networks", "a,b,c",
		"--b.key", "other", "--b.fault-rate=1", "--b.fault-kinds", "500", "--c.timezone", "Asia/Kolkata", "--c.currencies", "INR", "--c.seed", "9")
	if len(o.nets) != 3 {
		t.Fatalf("%d networks", len(o.nets))
	}
	a, b, c := o.nets[0], o.nets[1], o.nets[2]
	if a.Name != "a" || a.Key != "shared" || a.Seed != 7 || a.Variant != 0 || a.Timezone != "UTC" || a.Conversions != 300 || a.FaultRate != 0 ||
		formatCurrencies(a.Currencies) != "USD:70,EUR:20,RUB:10" {
		t.Errorf("a: %+v", a)
	}
	if b.Key != "other" || b.Seed != 7 || b.Variant != 1 || b.Timezone != "Asia/Tokyo" || b.Conversions != 300 || b.FaultRate != 1 ||
		strings.Join(b.FaultKinds, ",") != "500" || formatCurrencies(b.Currencies) != "EUR:60,GBP:30,USD:10" {
		t.Errorf("b: %+v", b)
	}
	if c.Key != "shared" || c.Seed != 9 || c.Variant != 2 || c.Timezone != "Asia/Kolkata" || formatCurrencies(c.Currencies) != "INR:100" {
		t.Errorf("c: %+v", c)
	}
	// A flag given without a name is every network's, zone and currencies too.
	o = mustParse(t, nil, "--key", "k", "--networks", "a,b", "--timezone", "Europe/Paris", "--currencies", "USD", "--variant", "3")
	for _, n := range o.nets {
		if n.Timezone != "Europe/Paris" || formatCurrencies(n.Currencies) != "USD:100" || n.Variant != 3 {
			t.Errorf("%s: %+v", n.Name, n.Config)
		}
	}
	// Each network's slices are its own.
	o = mustParse(t, nil, "--key", "k", "--networks", "a,b", "--b.fault-kinds", "429")
	if strings.Join(o.nets[0].FaultKinds, ",") != strings.Join(affisesim.DefaultFaultKinds, ",") {
		t.Errorf("b's fault kinds leaked into a's: %v", o.nets[0].FaultKinds)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--seed", "1"}, "--key (or AFFISE_SIM_KEY) is required"},
		{[]string{"--key", "k", "--b.timezone", "UTC"}, "name the networks with --networks"},
		{[]string{"--key", "k", "--networks", "a", "--b.timezone", "UTC"}, `"b" is not one of --networks a`},
		{[]string{"--key", "k", "--networks", "a", "--a.bogus", "1"}, "network a: flag provided but not defined: -bogus"},
		{[]string{"--key", "k", "--networks", "a", "--a.seed", "x"}, "network a: invalid value"},
		{[]string{"--key", "k", "--networks", "a", "--a.key="}, "--a.key is empty"},
		{[]string{"--key", "k", "--networks", "a", "--a.timezone"}, "--a.timezone needs a value"},
		{[]string{"--key", "k", "--networks", "a", "--.timezone", "UTC"}, "want --NAME.FLAG VALUE"},
		{[]string{"--key", "k", "extra"}, `unexpected argument "extra"`},
	} {
		_, err := parse(c.args, io.Discard, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
}
