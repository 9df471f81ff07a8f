// Package epcis maps GS1 EPCIS 2.0 (JSON / JSON-LD) to custos and back.
//
// Capture turns an EPCISDocument (or a single event) into the input
// messages custos already understands — telemetry batches on
// custos.telemetry.<twin> and commands on custos.command.<twin>, each with a
// Nats-Msg-Id derived from the EPCIS event id — after validating the whole
// document, so a refused document publishes nothing. Export renders a
// twin's history (records, alerts) as an EPCISDocument whose events carry
// their custos digest in an extension namespace.
//
// The package is pure: no I/O. The identifier → twin mapping and contract
// resolution come in through a Resolver; internal/epcis/service wires it
// to NATS, the store and HTTP. docs/epcis.md specifies the mapping.
package epcis
