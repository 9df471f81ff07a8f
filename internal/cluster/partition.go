package cluster

import (
	"hash/fnv"
	"strconv"
)

// PartitionOf is the partition of twin id among n: fnv32a(id) mod n, the
// hash nats-server's subject transform function partition(n, …) computes
// (server/subject_transform.go, getHashPartition), so custos and the
// server agree on where a twin's input is stored. n ≤ 0 gives 0.
func PartitionOf(id string, n int) int {
	if n <= 0 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// InputTransform returns the source and destination of the input stream's
// subject transform for n partitions: custos.<kind>.<twin> is stored as
// custos.<kind>.<partition>.<twin>. Publishers keep publishing
// custos.telemetry.<twin>.
func InputTransform(n int) (src, dest string) {
	return "custos.*.*", "custos.{{wildcard(1)}}.{{partition(" + strconv.Itoa(n) + ",2)}}.{{wildcard(2)}}"
}

// PartitionFilter is the stored-subject filter of partition p's input:
// telemetry, commands and timers of its twins.
func PartitionFilter(p int) string { return "custos.*." + strconv.Itoa(p) + ".*" }

// TenantInputMapping returns the account mapping, in custos's account, of
// a tenant's input of kind ("telemetry" or "command") for n partitions:
// custos.tenant.<t>.<kind>.<twin>, where the tenant account's service
// import delivers what the tenant's users publish, becomes
// custos.tenant.<t>.<kind>.<p>.<twin>, p hashed from the twin token as by
// InputTransform. (An import's own mapping may not partition; the
// exporting account's mappings apply to what it delivers.)
func TenantInputMapping(n int, kind string) (src, dest string) {
	return "custos.tenant.*." + kind + ".*",
		"custos.tenant.{{wildcard(1)}}." + kind + ".{{partition(" + strconv.Itoa(n) + ",2)}}.{{wildcard(2)}}"
}

// TenantPartitionFilter is the stored-subject filter of partition p's input
// from tenants' users (TenantInputMapping).
func TenantPartitionFilter(p int) string { return "custos.tenant.*.*." + strconv.Itoa(p) + ".*" }
