package epcis_test

import (
	"fmt"

	"github.com/custos-dev/custos/internal/epcis"
)

// One physical case, written as an EPC URN and as a GS1 Digital Link,
// has one key: that is what the operator maps to a twin.
func ExampleParseKey() {
	for _, id := range []string{
		"urn:epc:id:sgtin:0614141.112345.400",
		"https://id.gs1.org/01/10614141123459/21/400",
		"urn:epc:id:sscc:0614141.1234567890",
	} {
		k, err := epcis.ParseKey(id)
		fmt.Println(k, err)
	}
	// Output:
	// 01/10614141123459/21/400 <nil>
	// 01/10614141123459/21/400 <nil>
	// 00/106141412345678908 <nil>
}

// Status maps CBV business steps and dispositions to custos statuses.
func ExampleStatus() {
	fmt.Println(epcis.Status("shipping", "in_transit"))
	fmt.Println(epcis.Status("urn:epcglobal:cbv:bizstep:receiving", ""))
	fmt.Println(epcis.Status("decommissioning", ""))
	fmt.Printf("%q\n", epcis.Status("packing", "in_progress"))
	// Output:
	// in_transit
	// delivered
	// closed
	// ""
}
