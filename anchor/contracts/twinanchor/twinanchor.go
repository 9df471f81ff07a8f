// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package twinanchor

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// TwinAnchorMetaData contains all meta data concerning the TwinAnchor contract.
var TwinAnchorMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"}],\"name\":\"AlreadyAnchored\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"EmptyRoot\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"InvalidSignature\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint32\",\"name\":\"count\",\"type\":\"uint32\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"relayer\",\"type\":\"address\"}],\"name\":\"Anchored\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"internalType\":\"uint32\",\"name\":\"count\",\"type\":\"uint32\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"anchor\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"domainSeparator\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"internalType\":\"uint32\",\"name\":\"count\",\"type\":\"uint32\"}],\"name\":\"hashAnchor\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"}],\"name\":\"latestEpoch\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"\",\"type\":\"uint64\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"}],\"name\":\"rootOf\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"internalType\":\"uint32\",\"name\":\"count\",\"type\":\"uint32\"},{\"internalType\":\"uint64\",\"name\":\"blockNumber\",\"type\":\"uint64\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"internalType\":\"string\",\"name\":\"twin\",\"type\":\"string\"},{\"internalType\":\"uint64\",\"name\":\"seq\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"digest\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32[]\",\"name\":\"proof\",\"type\":\"bytes32[]\"}],\"name\":\"verifyLeaf\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "TwinAnchor",
	Bin: "0x6080604052348015600e575f5ffd5b50610e2d8061001c5f395ff3fe608060405234801561000f575f5ffd5b506004361061006f575f3560e01c80636b036d581161004d5780636b036d58146102c4578063c55e0792146102e7578063f698da251461031f575f5ffd5b8063537390ef1461007357806356a62735146100ba5780635c259bc514610232575b5f5ffd5b61009c610081366004610abb565b60016020525f908152604090205467ffffffffffffffff1681565b60405167ffffffffffffffff90911681526020015b60405180910390f35b6102246100c8366004610b05565b604080517f592fd665265f3df4fb0f86c300da1799efc01f51e82eb506c9de3b6ce33eb1ec60208083019190915267ffffffffffffffff9590951681830152606081019390935263ffffffff919091166080808401919091528151808403909101815260a0830182528051908401207f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60c08401527ffe86a82f6567504920b23468d929390d57091f83d09d617227b86b448ed919b760e08401527fc89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc661010084015246610120840152306101408085019190915282518085039091018152610160840183528051908501207f19010000000000000000000000000000000000000000000000000000000000006101808501526101828401526101a280840191909152815180840390910181526101c29092019052805191012090565b6040519081526020016100b1565b61029a610240366004610b3e565b73ffffffffffffffffffffffffffffffffffffffff82165f9081526020818152604080832067ffffffffffffffff808616855292529091208054600190910154909163ffffffff8216916401000000009004169250925092565b6040805193845263ffffffff909216602084015267ffffffffffffffff16908201526060016100b1565b6102d76102d2366004610bb4565b6103c6565b60405190151581526020016100b1565b6102fa6102f5366004610c8e565b610517565b60405173ffffffffffffffffffffffffffffffffffffffff90911681526020016100b1565b610224604080517f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60208201527ffe86a82f6567504920b23468d929390d57091f83d09d617227b86b448ed919b7918101919091527fc89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc660608201524660808201523060a08201525f9060c00160405160208183030381529060405280519060200120905090565b73ffffffffffffffffffffffffffffffffffffffff88165f9081526020818152604080832067ffffffffffffffff8b1684529091528120548061040c575f91505061050b565b5f888888886040516020016104249493929190610cf8565b604080518083037fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0018152828252805160209182012081840152815180840382018152928201909152815191012090505f5b84811015610506575f86868381811061049157610491610d5e565b9050602002013590508083106104d0576040805160208101839052908101849052606001604051602081830303815290604052805190602001206104fb565b6040805160208101859052908101829052606001604051602081830303815290604052805190602001205b925050600101610476565b501490505b98975050505050505050565b5f8461054f576040517f53ce4ece00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b604080517f592fd665265f3df4fb0f86c300da1799efc01f51e82eb506c9de3b6ce33eb1ec60208083019190915267ffffffffffffffff8916828401526060820188905263ffffffff87166080808401919091528351808403909101815260a0830184528051908201207f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60c08401527ffe86a82f6567504920b23468d929390d57091f83d09d617227b86b448ed919b760e08401527fc89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc661010084015246610120840152306101408085019190915284518085039091018152610160840185528051908301207f19010000000000000000000000000000000000000000000000000000000000006101808501526101828401526101a280840191909152835180840390910181526101c290920190925280519101206106af9084846108a4565b73ffffffffffffffffffffffffffffffffffffffff81165f9081526020818152604080832067ffffffffffffffff8b1684529091529020805491925090156107595780546040517f7ffb21bb00000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff8416600482015267ffffffffffffffff89166024820152604481019190915260640160405180910390fd5b8581556001808201805467ffffffffffffffff438116640100000000027fffffffffffffffffffffffffffffffffffffffff00000000000000000000000090921663ffffffff8a16179190911790915573ffffffffffffffffffffffffffffffffffffffff84165f908152602092909252604090912054811690881611156108325773ffffffffffffffffffffffffffffffffffffffff82165f90815260016020526040902080547fffffffffffffffffffffffffffffffffffffffffffffffff00000000000000001667ffffffffffffffff89161790555b6040805187815263ffffffff871660208201523381830152905167ffffffffffffffff89169173ffffffffffffffffffffffffffffffffffffffff8516917f9c4c0b599a61ae75fdf093a8d0806e888584fd06910a0a6fc3be3220978cc1719181900360600190a35095945050505050565b5f604182146108df576040517f8baa579f00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b5f6108ed6020828587610d8b565b6108f691610db2565b90505f610907604060208688610d8b565b61091091610db2565b90505f8585604081811061092657610926610d5e565b919091013560f81c915050601b81101561094857610945601b82610def565b90505b8060ff16601b1415801561096057508060ff16601c14155b8061098a57507f7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a082115b156109c1576040517f8baa579f00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b604080515f81526020810180835289905260ff831691810191909152606081018490526080810183905260019060a0016020604051602081039080840390855afa158015610a11573d5f5f3e3d5ffd5b50506040517fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0015194505073ffffffffffffffffffffffffffffffffffffffff8416610a89576040517f8baa579f00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b5050509392505050565b803573ffffffffffffffffffffffffffffffffffffffff81168114610ab6575f5ffd5b919050565b5f60208284031215610acb575f5ffd5b610ad482610a93565b9392505050565b803567ffffffffffffffff81168114610ab6575f5ffd5b803563ffffffff81168114610ab6575f5ffd5b5f5f5f60608486031215610b17575f5ffd5b610b2084610adb565b925060208401359150610b3560408501610af2565b90509250925092565b5f5f60408385031215610b4f575f5ffd5b610b5883610a93565b9150610b6660208401610adb565b90509250929050565b5f5f83601f840112610b7f575f5ffd5b50813567ffffffffffffffff811115610b96575f5ffd5b602083019150836020828501011115610bad575f5ffd5b9250929050565b5f5f5f5f5f5f5f5f60c0898b031215610bcb575f5ffd5b610bd489610a93565b9750610be260208a01610adb565b9650604089013567ffffffffffffffff811115610bfd575f5ffd5b610c098b828c01610b6f565b9097509550610c1c905060608a01610adb565b93506080890135925060a089013567ffffffffffffffff811115610c3e575f5ffd5b8901601f81018b13610c4e575f5ffd5b803567ffffffffffffffff811115610c64575f5ffd5b8b60208260051b8401011115610c78575f5ffd5b989b979a50959850939692959194602001935050565b5f5f5f5f5f60808688031215610ca2575f5ffd5b610cab86610adb565b945060208601359350610cc060408701610af2565b9250606086013567ffffffffffffffff811115610cdb575f5ffd5b610ce788828901610b6f565b969995985093965092949392505050565b60608152836060820152838560808301375f608085830101525f60807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0601f870116830101905067ffffffffffffffff8416602083015282604083015295945050505050565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52603260045260245ffd5b5f5f85851115610d99575f5ffd5b83861115610da5575f5ffd5b5050820193919092039150565b80356020831015610de9577fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff602084900360031b1b165b92915050565b60ff8181168382160190811115610de9577f4e487b71000000000000000000000000000000000000000000000000000000005f52601160045260245ffd",
}

// TwinAnchor is an auto generated Go binding around an Ethereum contract.
type TwinAnchor struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *TwinAnchor) GetABI() abi.ABI {
	return c.abi
}

// NewTwinAnchor creates a new instance of TwinAnchor.
func NewTwinAnchor() *TwinAnchor {
	parsed, err := TwinAnchorMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &TwinAnchor{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *TwinAnchor) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackAnchor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc55e0792.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function anchor(uint64 epoch, bytes32 root, uint32 count, bytes signature) returns(address signer)
func (twinAnchor *TwinAnchor) PackAnchor(epoch uint64, root [32]byte, count uint32, signature []byte) []byte {
	enc, err := twinAnchor.abi.Pack("anchor", epoch, root, count, signature)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAnchor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc55e0792.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function anchor(uint64 epoch, bytes32 root, uint32 count, bytes signature) returns(address signer)
func (twinAnchor *TwinAnchor) TryPackAnchor(epoch uint64, root [32]byte, count uint32, signature []byte) ([]byte, error) {
	return twinAnchor.abi.Pack("anchor", epoch, root, count, signature)
}

// UnpackAnchor is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xc55e0792.
//
// Solidity: function anchor(uint64 epoch, bytes32 root, uint32 count, bytes signature) returns(address signer)
func (twinAnchor *TwinAnchor) UnpackAnchor(data []byte) (common.Address, error) {
	out, err := twinAnchor.abi.Unpack("anchor", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackDomainSeparator is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf698da25.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function domainSeparator() view returns(bytes32)
func (twinAnchor *TwinAnchor) PackDomainSeparator() []byte {
	enc, err := twinAnchor.abi.Pack("domainSeparator")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDomainSeparator is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf698da25.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function domainSeparator() view returns(bytes32)
func (twinAnchor *TwinAnchor) TryPackDomainSeparator() ([]byte, error) {
	return twinAnchor.abi.Pack("domainSeparator")
}

// UnpackDomainSeparator is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xf698da25.
//
// Solidity: function domainSeparator() view returns(bytes32)
func (twinAnchor *TwinAnchor) UnpackDomainSeparator(data []byte) ([32]byte, error) {
	out, err := twinAnchor.abi.Unpack("domainSeparator", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackHashAnchor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x56a62735.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function hashAnchor(uint64 epoch, bytes32 root, uint32 count) view returns(bytes32)
func (twinAnchor *TwinAnchor) PackHashAnchor(epoch uint64, root [32]byte, count uint32) []byte {
	enc, err := twinAnchor.abi.Pack("hashAnchor", epoch, root, count)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackHashAnchor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x56a62735.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function hashAnchor(uint64 epoch, bytes32 root, uint32 count) view returns(bytes32)
func (twinAnchor *TwinAnchor) TryPackHashAnchor(epoch uint64, root [32]byte, count uint32) ([]byte, error) {
	return twinAnchor.abi.Pack("hashAnchor", epoch, root, count)
}

// UnpackHashAnchor is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x56a62735.
//
// Solidity: function hashAnchor(uint64 epoch, bytes32 root, uint32 count) view returns(bytes32)
func (twinAnchor *TwinAnchor) UnpackHashAnchor(data []byte) ([32]byte, error) {
	out, err := twinAnchor.abi.Unpack("hashAnchor", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackLatestEpoch is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x537390ef.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function latestEpoch(address signer) view returns(uint64)
func (twinAnchor *TwinAnchor) PackLatestEpoch(signer common.Address) []byte {
	enc, err := twinAnchor.abi.Pack("latestEpoch", signer)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackLatestEpoch is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x537390ef.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function latestEpoch(address signer) view returns(uint64)
func (twinAnchor *TwinAnchor) TryPackLatestEpoch(signer common.Address) ([]byte, error) {
	return twinAnchor.abi.Pack("latestEpoch", signer)
}

// UnpackLatestEpoch is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x537390ef.
//
// Solidity: function latestEpoch(address signer) view returns(uint64)
func (twinAnchor *TwinAnchor) UnpackLatestEpoch(data []byte) (uint64, error) {
	out, err := twinAnchor.abi.Unpack("latestEpoch", data)
	if err != nil {
		return *new(uint64), err
	}
	out0 := *abi.ConvertType(out[0], new(uint64)).(*uint64)
	return out0, nil
}

// PackRootOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5c259bc5.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function rootOf(address signer, uint64 epoch) view returns(bytes32 root, uint32 count, uint64 blockNumber)
func (twinAnchor *TwinAnchor) PackRootOf(signer common.Address, epoch uint64) []byte {
	enc, err := twinAnchor.abi.Pack("rootOf", signer, epoch)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRootOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5c259bc5.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function rootOf(address signer, uint64 epoch) view returns(bytes32 root, uint32 count, uint64 blockNumber)
func (twinAnchor *TwinAnchor) TryPackRootOf(signer common.Address, epoch uint64) ([]byte, error) {
	return twinAnchor.abi.Pack("rootOf", signer, epoch)
}

// RootOfOutput serves as a container for the return parameters of contract
// method RootOf.
type RootOfOutput struct {
	Root        [32]byte
	Count       uint32
	BlockNumber uint64
}

// UnpackRootOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x5c259bc5.
//
// Solidity: function rootOf(address signer, uint64 epoch) view returns(bytes32 root, uint32 count, uint64 blockNumber)
func (twinAnchor *TwinAnchor) UnpackRootOf(data []byte) (RootOfOutput, error) {
	out, err := twinAnchor.abi.Unpack("rootOf", data)
	outstruct := new(RootOfOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Root = *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	outstruct.Count = *abi.ConvertType(out[1], new(uint32)).(*uint32)
	outstruct.BlockNumber = *abi.ConvertType(out[2], new(uint64)).(*uint64)
	return *outstruct, nil
}

// PackVerifyLeaf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6b036d58.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function verifyLeaf(address signer, uint64 epoch, string twin, uint64 seq, bytes32 digest, bytes32[] proof) view returns(bool)
func (twinAnchor *TwinAnchor) PackVerifyLeaf(signer common.Address, epoch uint64, twin string, seq uint64, digest [32]byte, proof [][32]byte) []byte {
	enc, err := twinAnchor.abi.Pack("verifyLeaf", signer, epoch, twin, seq, digest, proof)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackVerifyLeaf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6b036d58.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function verifyLeaf(address signer, uint64 epoch, string twin, uint64 seq, bytes32 digest, bytes32[] proof) view returns(bool)
func (twinAnchor *TwinAnchor) TryPackVerifyLeaf(signer common.Address, epoch uint64, twin string, seq uint64, digest [32]byte, proof [][32]byte) ([]byte, error) {
	return twinAnchor.abi.Pack("verifyLeaf", signer, epoch, twin, seq, digest, proof)
}

// UnpackVerifyLeaf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x6b036d58.
//
// Solidity: function verifyLeaf(address signer, uint64 epoch, string twin, uint64 seq, bytes32 digest, bytes32[] proof) view returns(bool)
func (twinAnchor *TwinAnchor) UnpackVerifyLeaf(data []byte) (bool, error) {
	out, err := twinAnchor.abi.Unpack("verifyLeaf", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// TwinAnchorAnchored represents a Anchored event raised by the TwinAnchor contract.
type TwinAnchorAnchored struct {
	Signer  common.Address
	Epoch   uint64
	Root    [32]byte
	Count   uint32
	Relayer common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const TwinAnchorAnchoredEventName = "Anchored"

// ContractEventName returns the user-defined event name.
func (TwinAnchorAnchored) ContractEventName() string {
	return TwinAnchorAnchoredEventName
}

// UnpackAnchoredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Anchored(address indexed signer, uint64 indexed epoch, bytes32 root, uint32 count, address relayer)
func (twinAnchor *TwinAnchor) UnpackAnchoredEvent(log *types.Log) (*TwinAnchorAnchored, error) {
	event := "Anchored"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != twinAnchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(TwinAnchorAnchored)
	if len(log.Data) > 0 {
		if err := twinAnchor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range twinAnchor.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// UnpackError attempts to decode the provided error data using user-defined
// error definitions.
func (twinAnchor *TwinAnchor) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], twinAnchor.abi.Errors["AlreadyAnchored"].ID.Bytes()[:4]) {
		return twinAnchor.UnpackAlreadyAnchoredError(raw[4:])
	}
	if bytes.Equal(raw[:4], twinAnchor.abi.Errors["EmptyRoot"].ID.Bytes()[:4]) {
		return twinAnchor.UnpackEmptyRootError(raw[4:])
	}
	if bytes.Equal(raw[:4], twinAnchor.abi.Errors["InvalidSignature"].ID.Bytes()[:4]) {
		return twinAnchor.UnpackInvalidSignatureError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// TwinAnchorAlreadyAnchored represents a AlreadyAnchored error raised by the TwinAnchor contract.
type TwinAnchorAlreadyAnchored struct {
	Signer common.Address
	Epoch  uint64
	Root   [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AlreadyAnchored(address signer, uint64 epoch, bytes32 root)
func TwinAnchorAlreadyAnchoredErrorID() common.Hash {
	return common.HexToHash("0x7ffb21bb50d19aa2b7a16f8d0fe2a5fc6aa570c5168c4bb105ce79f0aa20843e")
}

// UnpackAlreadyAnchoredError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AlreadyAnchored(address signer, uint64 epoch, bytes32 root)
func (twinAnchor *TwinAnchor) UnpackAlreadyAnchoredError(raw []byte) (*TwinAnchorAlreadyAnchored, error) {
	out := new(TwinAnchorAlreadyAnchored)
	if err := twinAnchor.abi.UnpackIntoInterface(out, "AlreadyAnchored", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// TwinAnchorEmptyRoot represents a EmptyRoot error raised by the TwinAnchor contract.
type TwinAnchorEmptyRoot struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error EmptyRoot()
func TwinAnchorEmptyRootErrorID() common.Hash {
	return common.HexToHash("0x53ce4ece66102bfdfb7e2dd6215b88dbc54b76fd92f4bed53b69b1166a744a63")
}

// UnpackEmptyRootError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error EmptyRoot()
func (twinAnchor *TwinAnchor) UnpackEmptyRootError(raw []byte) (*TwinAnchorEmptyRoot, error) {
	out := new(TwinAnchorEmptyRoot)
	if err := twinAnchor.abi.UnpackIntoInterface(out, "EmptyRoot", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// TwinAnchorInvalidSignature represents a InvalidSignature error raised by the TwinAnchor contract.
type TwinAnchorInvalidSignature struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error InvalidSignature()
func TwinAnchorInvalidSignatureErrorID() common.Hash {
	return common.HexToHash("0x8baa579fce362245063d36f11747a89dd489c54795634fc673cc0e0db51fedc5")
}

// UnpackInvalidSignatureError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error InvalidSignature()
func (twinAnchor *TwinAnchor) UnpackInvalidSignatureError(raw []byte) (*TwinAnchorInvalidSignature, error) {
	out := new(TwinAnchorInvalidSignature)
	if err := twinAnchor.abi.UnpackIntoInterface(out, "InvalidSignature", raw); err != nil {
		return nil, err
	}
	return out, nil
}
