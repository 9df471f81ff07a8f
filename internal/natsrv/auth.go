package natsrv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/custos-dev/custos/twin"
)

// Role is what a NATS user may do. See docs/security.md for the subjects
// each role reaches.
type Role string

const (
	// RoleCustos is the runtime itself: everything. Only custos's own
	// in-process connection has it; its key is made afresh at each start.
	RoleCustos Role = "custos"
	// RoleAdmin reads everything (streams, dead letters, KV, state and
	// alerts) and publishes telemetry and commands, but may not write the KV
	// bucket, publish state, alerts, timers or dead letters, nor create,
	// change, purge or delete streams.
	RoleAdmin Role = "admin"
	// RoleOperator is a dashboard that may also publish commands.
	RoleOperator Role = "operator"
	// RoleDashboard reads state and alerts: subjects, KV get and watch.
	RoleDashboard Role = "dashboard"
	// RoleDevice publishes telemetry, for every twin or only for its own.
	RoleDevice Role = "device"
)

// User is a NATS user of the embedded server, authenticated by an nkey.
type User struct {
	// Nkey is the user's public nkey ("U…"); the server never sees the seed.
	Nkey string
	Role Role
	// Tenant, if not empty, confines the user to twins whose id starts with
	// Tenant + "-", as an HTTP token's tenant does. Such users live in an
	// account of their own (see TenantAccount).
	Tenant string
	// Twins, for devices, lists the only twins the device may publish
	// readings for (empty: every twin it can reach).
	Twins []string
}

// ErrUsers is wrapped by errors about a users file.
var ErrUsers = errors.New("nats users")

// Subjects as seen by custos (its account). Telemetry and commands of a
// tenant's users arrive on these, with the tenant in the subject; state and
// alerts for a tenant's twins are copied to TenantTwinPrefix.
const (
	// TenantPrefix starts every subject that carries a tenant name as its
	// third token: custos.tenant.<tenant>.telemetry.<twin>,
	// custos.tenant.<tenant>.command.<twin> (input) and
	// custos.tenant.<tenant>.twin.<twin>.state|alert (output copies).
	TenantPrefix = "custos.tenant."
)

// TenantAccount is the name of the NATS account of a tenant's users.
func TenantAccount(tenant string) string { return "tenant-" + tenant }

// ParseUsers reads a users file: one user per line as
// "PUBLIC_NKEY ROLE [tenant=NAME] [twins=ID,ID,…]", ROLE being admin,
// operator, dashboard or device; blank lines and lines starting with # are
// ignored.
//
// # Errors
//
// An error wrapping ErrUsers names the first bad line.
func ParseUsers(r io.Reader) ([]User, error) {
	var users []User
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("%w: line %d: want \"PUBLIC_NKEY ROLE [tenant=NAME] [twins=ID,…]\"", ErrUsers, n)
		}
		u := User{Nkey: f[0], Role: Role(f[1])}
		for _, opt := range f[2:] {
			k, v, _ := strings.Cut(opt, "=")
			switch k {
			case "tenant":
				u.Tenant = v
			case "twins":
				u.Twins = strings.Split(v, ",")
			default:
				return nil, fmt.Errorf("%w: line %d: unknown option %q (want tenant= or twins=)", ErrUsers, n, opt)
			}
		}
		if err := u.validate(); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrUsers, n, err)
		}
		if seen[u.Nkey] {
			return nil, fmt.Errorf("%w: line %d: duplicate key", ErrUsers, n)
		}
		seen[u.Nkey] = true
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read nats users: %w", err)
	}
	return users, nil
}

// LoadUsers reads a users file (see ParseUsers).
func LoadUsers(path string) ([]User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nats users: %w", err)
	}
	defer f.Close()
	u, err := ParseUsers(f)
	if err != nil {
		return nil, fmt.Errorf("nats users %s: %w", path, err)
	}
	return u, nil
}

func (u User) validate() error {
	if !nkeys.IsValidPublicUserKey(u.Nkey) {
		return fmt.Errorf("%q is not a public user nkey (U…; see custos nkey)", u.Nkey)
	}
	switch u.Role {
	case RoleAdmin, RoleOperator, RoleDashboard, RoleDevice:
	default:
		return fmt.Errorf("role %q: want admin, operator, dashboard or device", u.Role)
	}
	if u.Tenant != "" && !validToken(u.Tenant) {
		return fmt.Errorf("tenant %q: want [A-Za-z0-9_]+ (a subject token)", u.Tenant)
	}
	if len(u.Twins) > 0 && u.Role != RoleDevice {
		return errors.New("twins= is for devices")
	}
	for _, id := range u.Twins {
		if !twin.ValidID(id) {
			return fmt.Errorf("twin %q: not a twin id", id)
		}
		if u.Tenant != "" && !strings.HasPrefix(id, u.Tenant+"-") {
			return fmt.Errorf("twin %q is not in tenant %s", id, u.Tenant)
		}
	}
	return nil
}

// validToken reports whether s is 1–128 characters of [A-Za-z0-9_].
func validToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Tenants returns the distinct tenants of users.
func Tenants(users []User) []string {
	var ts []string
	seen := map[string]bool{}
	for _, u := range users {
		if u.Tenant != "" && !seen[u.Tenant] {
			seen[u.Tenant] = true
			ts = append(ts, u.Tenant)
		}
	}
	return ts
}

// JetStream API subjects for reading a KV bucket or a stream: info, direct
// and message get, and ordered (ephemeral) consumers for watching.
func readStream(stream string) []string {
	return []string{
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO." + stream,
		"$JS.API.STREAM.MSG.GET." + stream,
		"$JS.API.DIRECT.GET." + stream,
		"$JS.API.DIRECT.GET." + stream + ".>",
		"$JS.API.CONSUMER.CREATE." + stream,
		"$JS.API.CONSUMER.CREATE." + stream + ".>",
		"$JS.API.CONSUMER.INFO." + stream + ".>",
		"$JS.API.CONSUMER.DELETE." + stream + ".>",
		"$JS.API.CONSUMER.MSG.NEXT." + stream + ".>",
		"$JS.FC." + stream + ".>",
	}
}

// permissions returns what a user of role may do in custos's account.
func permissions(u User) *server.Permissions {
	telemetry := []string{"custos.telemetry.*"}
	if len(u.Twins) > 0 {
		telemetry = nil
		for _, id := range u.Twins {
			telemetry = append(telemetry, "custos.telemetry."+id)
		}
	}
	if u.Tenant != "" {
		// A tenant's account holds no streams: its users publish input
		// (forwarded to custos with the tenant added) and read the copies of
		// their twins' state and alerts.
		p := &server.Permissions{Publish: &server.SubjectPermission{}, Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}}}
		switch u.Role {
		case RoleDevice:
			p.Publish.Allow = telemetry
		case RoleDashboard:
			p.Subscribe.Allow = []string{"custos.twin.*.state", "custos.twin.*.alert"}
		case RoleOperator:
			p.Publish.Allow = []string{"custos.command.*"}
			p.Subscribe.Allow = append(p.Subscribe.Allow, "custos.twin.*.state", "custos.twin.*.alert")
		case RoleAdmin:
			p.Publish.Allow = []string{"custos.telemetry.*", "custos.command.*"}
			p.Subscribe.Allow = append(p.Subscribe.Allow, "custos.twin.*.state", "custos.twin.*.alert")
		}
		if len(p.Publish.Allow) == 0 {
			p.Publish.Deny = []string{">"} // an empty allow list would allow everything
		}
		return p
	}
	read := append(readStream("KV_custos_twins"), readStream("CUSTOS_ALERTS")...)
	switch u.Role {
	case RoleCustos:
		return nil // everything
	case RoleDevice:
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: telemetry},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
		}
	case RoleDashboard:
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: read},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>", "custos.twin.*.state", "custos.twin.*.alert"}},
		}
	case RoleOperator:
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: append(read, "custos.command.*", "custos.epcis.capture")},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>", "custos.twin.*.state", "custos.twin.*.alert"}},
		}
	case RoleAdmin:
		return &server.Permissions{
			Publish: &server.SubjectPermission{
				Allow: []string{"custos.telemetry.>", "custos.command.>", "custos.epcis.capture", "$JS.API.>", "$JS.FC.>", "$JS.ACK.>", "_INBOX.>"},
				// Custos's outputs, its streams and its consumer are its own.
				Deny: []string{
					"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
					"$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>", "$JS.API.STREAM.RESTORE.>",
					"$JS.API.STREAM.PEER.>", "$JS.API.STREAM.LEADER.>", "$JS.API.ACCOUNT.>", "$JS.API.SERVER.>",
					"$JS.API.META.>", "$JS.API.CONSUMER.DURABLE.>",
					"$JS.API.CONSUMER.CREATE.CUSTOS_INPUT.custos", "$JS.API.CONSUMER.CREATE.CUSTOS_INPUT.custos.>",
					"$JS.API.CONSUMER.DELETE.CUSTOS_INPUT.custos", "$JS.API.CONSUMER.PAUSE.>",
					"$JS.API.CONSUMER.UNPIN.>", "$JS.API.CONSUMER.LEADER.>",
				},
			},
			Subscribe: &server.SubjectPermission{Allow: []string{">"}},
		}
	}
	// Unknown role: nothing.
	return &server.Permissions{Publish: &server.SubjectPermission{Deny: []string{">"}}, Subscribe: &server.SubjectPermission{Deny: []string{">"}}}
}

// NewUserKey makes a user nkey, writes its seed to path (mode 0600, in a
// directory it creates) and returns its public key.
func NewUserKey(path string) (string, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", err
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, append(seed, '\n'), 0o600); err != nil {
		return "", err
	}
	return pub, nil
}

// LocalAdminKey returns the public key of the local admin's seed at path,
// creating the seed on first use. `make run` prints its path; the custos
// client subcommands read it by default.
func LocalAdminKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return NewUserKey(path)
	}
	if err != nil {
		return "", err
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(data))))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return kp.PublicKey()
}

// CredsOption returns the NATS client option for a credentials file: an
// nkey seed (custos nkey, the local admin key under --data) or a chained
// JWT .creds file (for an external NATS server with decentralised auth).
func CredsOption(path string) (nats.Option, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	if strings.Contains(string(data), "BEGIN NATS USER JWT") {
		return nats.UserCredentials(path), nil
	}
	opt, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		return nil, fmt.Errorf("nats credentials %s: %w", path, err)
	}
	return opt, nil
}
