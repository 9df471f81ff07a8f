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
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"operator\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"}],\"name\":\"AlreadyAnchored\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"BadKey\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"EmptyRoot\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"InvalidSignature\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"caller\",\"type\":\"address\"}],\"name\":\"NotOwner\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"}],\"name\":\"Unauthorized\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint32\",\"name\":\"count\",\"type\":\"uint32\"}],\"name\":\"Anchored\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint64\",\"name\":\"fromEpoch\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"uint64\",\"name\":\"untilEpoch\",\"type\":\"uint64\"}],\"name\":\"KeyAuthorized\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint64\",\"name\":\"atBlock\",\"type\":\"uint64\"}],\"name\":\"KeyRevoked\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"previousOwner\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"newOwner\",\"type\":\"address\"}],\"name\":\"OwnershipTransferred\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"internalType\":\"uint32\",\"name\":\"count\",\"type\":\"uint32\"},{\"internalType\":\"bytes32\",\"name\":\"r\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"vs\",\"type\":\"bytes32\"}],\"name\":\"anchor\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"internalType\":\"uint64\",\"name\":\"fromEpoch\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"untilEpoch\",\"type\":\"uint64\"}],\"name\":\"authorize\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"domainSeparator\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"internalType\":\"uint32\",\"name\":\"count\",\"type\":\"uint32\"}],\"name\":\"hashAnchor\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"}],\"name\":\"keyOf\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"fromEpoch\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"untilEpoch\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"revokedAt\",\"type\":\"uint64\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"owner\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"}],\"name\":\"revoke\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"}],\"name\":\"rootOf\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"oldSigner\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"newSigner\",\"type\":\"address\"},{\"internalType\":\"uint64\",\"name\":\"fromEpoch\",\"type\":\"uint64\"}],\"name\":\"rotate\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"newOwner\",\"type\":\"address\"}],\"name\":\"transferOwnership\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"signer\",\"type\":\"address\"},{\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"internalType\":\"string\",\"name\":\"twin\",\"type\":\"string\"},{\"internalType\":\"uint64\",\"name\":\"seq\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"digest\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32[]\",\"name\":\"proof\",\"type\":\"bytes32[]\"}],\"name\":\"verifyLeaf\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "TwinAnchor",
	Bin: "0x60c060405234801561000f575f5ffd5b5060405161168d38038061168d83398101604081905261002e91610299565b6001600160a01b0382166100555760405163ee9f2d5360e01b815260040160405180910390fd5b46608052610100604080517f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60208201527ffe86a82f6567504920b23468d929390d57091f83d09d617227b86b448ed919b7918101919091527fc89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc660608201524660808201523060a08201525f9060c00160405160208183030381529060405280519060200120905090565b60a0525f80546001600160a01b0319166001600160a01b03841690811782556040519091907f8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0908290a36001600160a01b0381161561016b5761016b815f6001600160401b03610172565b50506102ca565b6001600160a01b038316158061019a5750816001600160401b0316816001600160401b031611155b156101b85760405163ee9f2d5360e01b815260040160405180910390fd5b604080516060810182526001600160401b0384811680835284821660208085018281525f8688018181526001600160a01b038c16808352600185529189902097518854935191518816600160801b02600160801b600160c01b031992891668010000000000000000026001600160801b03199095169190981617929092179190911694909417909455845191825292810192909252917fc14e044b2ba296e957b8a457509a4001dce48f583ba3a6eb67e1c19591845600910160405180910390a2505050565b80516001600160a01b0381168114610294575f5ffd5b919050565b5f5f604083850312156102aa575f5ffd5b6102b38361027e565b91506102c16020840161027e565b90509250929050565b60805160a0516113a26102eb5f395f610d2c01525f610c5801526113a25ff3fe608060405234801561000f575f5ffd5b50600436106100c4575f3560e01c806374a8f1031161007d578063f2fde38b11610058578063f2fde38b146101b6578063f698da25146101c9578063fa073d76146101d1575f5ffd5b806374a8f1031461014c5780638da5cb5b1461015f578063939df5a1146101a3575f5ffd5b80635c259bc5116100ad5780635c259bc5146101035780636b036d58146101165780636b267d0f14610139575f5ffd5b80633eca3690146100c857806356a62735146100dd575b5f5ffd5b6100db6100d636600461106a565b610282565b005b6100f06100eb3660046110bd565b610459565b6040519081526020015b60405180910390f35b6100f06101113660046110ed565b61052a565b610129610124366004611166565b61056b565b60405190151581526020016100fa565b6100db61014736600461123e565b6106be565b6100db61015a366004611288565b610941565b5f5461017e9073ffffffffffffffffffffffffffffffffffffffff1681565b60405173ffffffffffffffffffffffffffffffffffffffff90911681526020016100fa565b6100db6101b13660046112a8565b610ac9565b6100db6101c4366004611288565b610b2b565b6100f0610c55565b6102576101df366004611288565b73ffffffffffffffffffffffffffffffffffffffff165f908152600160209081526040918290208251606081018452905467ffffffffffffffff808216808452680100000000000000008304821694840185905270010000000000000000000000000000000090920416919093018190529192909190565b6040805167ffffffffffffffff948516815292841660208401529216918101919091526060016100fa565b5f5473ffffffffffffffffffffffffffffffffffffffff1633146102d9576040517f245aecd30000000000000000000000000000000000000000000000000000000081523360048201526024015b60405180910390fd5b73ffffffffffffffffffffffffffffffffffffffff83165f908152600160205260409020805468010000000000000000900467ffffffffffffffff16158061034c57508273ffffffffffffffffffffffffffffffffffffffff168473ffffffffffffffffffffffffffffffffffffffff16145b15610383576040517fee9f2d5300000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b805467ffffffffffffffff8084166801000000000000000090920416111561044057805467ffffffffffffffff8381166801000000000000000081027fffffffffffffffffffffffffffffffff0000000000000000ffffffffffffffff8416811785556040805191841693909416929092178252602082015273ffffffffffffffffffffffffffffffffffffffff8616917fc14e044b2ba296e957b8a457509a4001dce48f583ba3a6eb67e1c19591845600910160405180910390a25b610453838367ffffffffffffffff610d4e565b50505050565b604080517f592fd665265f3df4fb0f86c300da1799efc01f51e82eb506c9de3b6ce33eb1ec602082015267ffffffffffffffff8516918101919091526060810183905263ffffffff821660808201525f90819060a0016040516020818303038152906040528051906020012090506104cf610c55565b6040517f19010000000000000000000000000000000000000000000000000000000000006020820152602281019190915260428101829052606201604051602081830303815290604052805190602001209150509392505050565b73ffffffffffffffffffffffffffffffffffffffff82165f90815260026020908152604080832067ffffffffffffffff851684529091529020545b92915050565b73ffffffffffffffffffffffffffffffffffffffff88165f90815260026020908152604080832067ffffffffffffffff8b168452909152812054806105b3575f9150506106b2565b5f888888886040516020016105cb94939291906112d1565b604080518083037fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0018152828252805160209182012081840152815180840382018152928201909152815191012090505f5b848110156106ad575f86868381811061063857610638611337565b905060200201359050808310610677576040805160208101839052908101849052606001604051602081830303815290604052805190602001206106a2565b6040805160208101859052908101829052606001604051602081830303815290604052805190602001205b92505060010161061d565b501490505b98975050505050505050565b836106f5576040517f53ce4ece00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b5f61070b610704878787610459565b8484610eca565b73ffffffffffffffffffffffffffffffffffffffff81165f908152600160209081526040918290208251606081018452905467ffffffffffffffff80821680845268010000000000000000830482169484019490945270010000000000000000000000000000000090910481169382019390935292935090881610806107a95750806020015167ffffffffffffffff168767ffffffffffffffff1610155b806107c15750604081015167ffffffffffffffff1615155b15610820576040517fa575c7ee00000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff8316600482015267ffffffffffffffff881660248201526044016102d0565b73ffffffffffffffffffffffffffffffffffffffff82165f90815260026020908152604080832067ffffffffffffffff8b168452918290529091205480156108c3576040517f7ffb21bb00000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff8516600482015267ffffffffffffffff8a166024820152604481018290526064016102d0565b67ffffffffffffffff89165f81815260208481526040918290208b905581518b815263ffffffff8b169181019190915273ffffffffffffffffffffffffffffffffffffffff8716917fcf931ee76403486f668ee91d0dded4a8c6a7c42df32d8b2f8f350d76d1b3f892910160405180910390a3505050505050505050565b5f5473ffffffffffffffffffffffffffffffffffffffff163314610993576040517f245aecd30000000000000000000000000000000000000000000000000000000081523360048201526024016102d0565b73ffffffffffffffffffffffffffffffffffffffff81165f908152600160205260409020805468010000000000000000900467ffffffffffffffff1615806109f957508054700100000000000000000000000000000000900467ffffffffffffffff1615155b15610a30576040517fee9f2d5300000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b80547fffffffffffffffff0000000000000000ffffffffffffffffffffffffffffffff167001000000000000000000000000000000004367ffffffffffffffff1690810291909117825560405190815273ffffffffffffffffffffffffffffffffffffffff8316907ffae524e8b7fa81ec6847020fd7d5de9062f3f8b1fc1141fdac9ff924e02a2b459060200160405180910390a25050565b5f5473ffffffffffffffffffffffffffffffffffffffff163314610b1b576040517f245aecd30000000000000000000000000000000000000000000000000000000081523360048201526024016102d0565b610b26838383610d4e565b505050565b5f5473ffffffffffffffffffffffffffffffffffffffff163314610b7d576040517f245aecd30000000000000000000000000000000000000000000000000000000081523360048201526024016102d0565b73ffffffffffffffffffffffffffffffffffffffff8116610bca576040517fee9f2d5300000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b5f805460405173ffffffffffffffffffffffffffffffffffffffff808516939216917f8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e091a35f80547fffffffffffffffffffffffff00000000000000000000000000000000000000001673ffffffffffffffffffffffffffffffffffffffff92909216919091179055565b5f7f00000000000000000000000000000000000000000000000000000000000000004614610d2957610d24604080517f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60208201527ffe86a82f6567504920b23468d929390d57091f83d09d617227b86b448ed919b7918101919091527fc89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc660608201524660808201523060a08201525f9060c00160405160208183030381529060405280519060200120905090565b905090565b507f000000000000000000000000000000000000000000000000000000000000000090565b73ffffffffffffffffffffffffffffffffffffffff83161580610d8557508167ffffffffffffffff168167ffffffffffffffff1611155b15610dbc576040517fee9f2d5300000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b6040805160608101825267ffffffffffffffff84811680835284821660208085018281525f86880181815273ffffffffffffffffffffffffffffffffffffffff8c16808352600185529189902097518854935191518816700100000000000000000000000000000000027fffffffffffffffff0000000000000000ffffffffffffffffffffffffffffffff92891668010000000000000000027fffffffffffffffffffffffffffffffff000000000000000000000000000000009095169190981617929092179190911694909417909455845191825292810192909252917fc14e044b2ba296e957b8a457509a4001dce48f583ba3a6eb67e1c19591845600910160405180910390a2505050565b5f7f7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff821681610efe60ff85901c601b611364565b90507f7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0821115610f5a576040517f8baa579f00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b604080515f81526020810180835288905260ff831691810191909152606081018690526080810183905260019060a0016020604051602081039080840390855afa158015610faa573d5f5f3e3d5ffd5b50506040517fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0015193505073ffffffffffffffffffffffffffffffffffffffff8316611022576040517f8baa579f00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b50509392505050565b803573ffffffffffffffffffffffffffffffffffffffff8116811461104e575f5ffd5b919050565b803567ffffffffffffffff8116811461104e575f5ffd5b5f5f5f6060848603121561107c575f5ffd5b6110858461102b565b92506110936020850161102b565b91506110a160408501611053565b90509250925092565b803563ffffffff8116811461104e575f5ffd5b5f5f5f606084860312156110cf575f5ffd5b6110d884611053565b9250602084013591506110a1604085016110aa565b5f5f604083850312156110fe575f5ffd5b6111078361102b565b915061111560208401611053565b90509250929050565b5f5f83601f84011261112e575f5ffd5b50813567ffffffffffffffff811115611145575f5ffd5b6020830191508360208260051b850101111561115f575f5ffd5b9250929050565b5f5f5f5f5f5f5f5f60c0898b03121561117d575f5ffd5b6111868961102b565b975061119460208a01611053565b9650604089013567ffffffffffffffff8111156111af575f5ffd5b8901601f81018b136111bf575f5ffd5b803567ffffffffffffffff8111156111d5575f5ffd5b8b60208284010111156111e6575f5ffd5b602091909101965094506111fc60608a01611053565b93506080890135925060a089013567ffffffffffffffff81111561121e575f5ffd5b61122a8b828c0161111e565b999c989b5096995094979396929594505050565b5f5f5f5f5f60a08688031215611252575f5ffd5b61125b86611053565b945060208601359350611270604087016110aa565b94979396509394606081013594506080013592915050565b5f60208284031215611298575f5ffd5b6112a18261102b565b9392505050565b5f5f5f606084860312156112ba575f5ffd5b6112c38461102b565b925061109360208501611053565b60608152836060820152838560808301375f608085830101525f60807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0601f870116830101905067ffffffffffffffff8416602083015282604083015295945050505050565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52603260045260245ffd5b60ff8181168382160190811115610565577f4e487b71000000000000000000000000000000000000000000000000000000005f52601160045260245ffd",
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

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address operator, address signer) returns()
func (twinAnchor *TwinAnchor) PackConstructor(operator common.Address, signer common.Address) []byte {
	enc, err := twinAnchor.abi.Pack("", operator, signer)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackAnchor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6b267d0f.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function anchor(uint64 epoch, bytes32 root, uint32 count, bytes32 r, bytes32 vs) returns()
func (twinAnchor *TwinAnchor) PackAnchor(epoch uint64, root [32]byte, count uint32, r [32]byte, vs [32]byte) []byte {
	enc, err := twinAnchor.abi.Pack("anchor", epoch, root, count, r, vs)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAnchor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6b267d0f.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function anchor(uint64 epoch, bytes32 root, uint32 count, bytes32 r, bytes32 vs) returns()
func (twinAnchor *TwinAnchor) TryPackAnchor(epoch uint64, root [32]byte, count uint32, r [32]byte, vs [32]byte) ([]byte, error) {
	return twinAnchor.abi.Pack("anchor", epoch, root, count, r, vs)
}

// PackAuthorize is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x939df5a1.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function authorize(address signer, uint64 fromEpoch, uint64 untilEpoch) returns()
func (twinAnchor *TwinAnchor) PackAuthorize(signer common.Address, fromEpoch uint64, untilEpoch uint64) []byte {
	enc, err := twinAnchor.abi.Pack("authorize", signer, fromEpoch, untilEpoch)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAuthorize is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x939df5a1.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function authorize(address signer, uint64 fromEpoch, uint64 untilEpoch) returns()
func (twinAnchor *TwinAnchor) TryPackAuthorize(signer common.Address, fromEpoch uint64, untilEpoch uint64) ([]byte, error) {
	return twinAnchor.abi.Pack("authorize", signer, fromEpoch, untilEpoch)
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

// PackKeyOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfa073d76.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function keyOf(address signer) view returns(uint64 fromEpoch, uint64 untilEpoch, uint64 revokedAt)
func (twinAnchor *TwinAnchor) PackKeyOf(signer common.Address) []byte {
	enc, err := twinAnchor.abi.Pack("keyOf", signer)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackKeyOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfa073d76.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function keyOf(address signer) view returns(uint64 fromEpoch, uint64 untilEpoch, uint64 revokedAt)
func (twinAnchor *TwinAnchor) TryPackKeyOf(signer common.Address) ([]byte, error) {
	return twinAnchor.abi.Pack("keyOf", signer)
}

// KeyOfOutput serves as a container for the return parameters of contract
// method KeyOf.
type KeyOfOutput struct {
	FromEpoch  uint64
	UntilEpoch uint64
	RevokedAt  uint64
}

// UnpackKeyOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xfa073d76.
//
// Solidity: function keyOf(address signer) view returns(uint64 fromEpoch, uint64 untilEpoch, uint64 revokedAt)
func (twinAnchor *TwinAnchor) UnpackKeyOf(data []byte) (KeyOfOutput, error) {
	out, err := twinAnchor.abi.Unpack("keyOf", data)
	outstruct := new(KeyOfOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.FromEpoch = *abi.ConvertType(out[0], new(uint64)).(*uint64)
	outstruct.UntilEpoch = *abi.ConvertType(out[1], new(uint64)).(*uint64)
	outstruct.RevokedAt = *abi.ConvertType(out[2], new(uint64)).(*uint64)
	return *outstruct, nil
}

// PackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function owner() view returns(address)
func (twinAnchor *TwinAnchor) PackOwner() []byte {
	enc, err := twinAnchor.abi.Pack("owner")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function owner() view returns(address)
func (twinAnchor *TwinAnchor) TryPackOwner() ([]byte, error) {
	return twinAnchor.abi.Pack("owner")
}

// UnpackOwner is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x8da5cb5b.
//
// Solidity: function owner() view returns(address)
func (twinAnchor *TwinAnchor) UnpackOwner(data []byte) (common.Address, error) {
	out, err := twinAnchor.abi.Unpack("owner", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackRevoke is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x74a8f103.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function revoke(address signer) returns()
func (twinAnchor *TwinAnchor) PackRevoke(signer common.Address) []byte {
	enc, err := twinAnchor.abi.Pack("revoke", signer)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRevoke is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x74a8f103.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function revoke(address signer) returns()
func (twinAnchor *TwinAnchor) TryPackRevoke(signer common.Address) ([]byte, error) {
	return twinAnchor.abi.Pack("revoke", signer)
}

// PackRootOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5c259bc5.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function rootOf(address signer, uint64 epoch) view returns(bytes32)
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
// Solidity: function rootOf(address signer, uint64 epoch) view returns(bytes32)
func (twinAnchor *TwinAnchor) TryPackRootOf(signer common.Address, epoch uint64) ([]byte, error) {
	return twinAnchor.abi.Pack("rootOf", signer, epoch)
}

// UnpackRootOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x5c259bc5.
//
// Solidity: function rootOf(address signer, uint64 epoch) view returns(bytes32)
func (twinAnchor *TwinAnchor) UnpackRootOf(data []byte) ([32]byte, error) {
	out, err := twinAnchor.abi.Unpack("rootOf", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackRotate is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3eca3690.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function rotate(address oldSigner, address newSigner, uint64 fromEpoch) returns()
func (twinAnchor *TwinAnchor) PackRotate(oldSigner common.Address, newSigner common.Address, fromEpoch uint64) []byte {
	enc, err := twinAnchor.abi.Pack("rotate", oldSigner, newSigner, fromEpoch)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRotate is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3eca3690.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function rotate(address oldSigner, address newSigner, uint64 fromEpoch) returns()
func (twinAnchor *TwinAnchor) TryPackRotate(oldSigner common.Address, newSigner common.Address, fromEpoch uint64) ([]byte, error) {
	return twinAnchor.abi.Pack("rotate", oldSigner, newSigner, fromEpoch)
}

// PackTransferOwnership is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf2fde38b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function transferOwnership(address newOwner) returns()
func (twinAnchor *TwinAnchor) PackTransferOwnership(newOwner common.Address) []byte {
	enc, err := twinAnchor.abi.Pack("transferOwnership", newOwner)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTransferOwnership is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf2fde38b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function transferOwnership(address newOwner) returns()
func (twinAnchor *TwinAnchor) TryPackTransferOwnership(newOwner common.Address) ([]byte, error) {
	return twinAnchor.abi.Pack("transferOwnership", newOwner)
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
	Signer common.Address
	Epoch  uint64
	Root   [32]byte
	Count  uint32
	Raw    *types.Log // Blockchain specific contextual infos
}

const TwinAnchorAnchoredEventName = "Anchored"

// ContractEventName returns the user-defined event name.
func (TwinAnchorAnchored) ContractEventName() string {
	return TwinAnchorAnchoredEventName
}

// UnpackAnchoredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Anchored(address indexed signer, uint64 indexed epoch, bytes32 root, uint32 count)
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

// TwinAnchorKeyAuthorized represents a KeyAuthorized event raised by the TwinAnchor contract.
type TwinAnchorKeyAuthorized struct {
	Signer     common.Address
	FromEpoch  uint64
	UntilEpoch uint64
	Raw        *types.Log // Blockchain specific contextual infos
}

const TwinAnchorKeyAuthorizedEventName = "KeyAuthorized"

// ContractEventName returns the user-defined event name.
func (TwinAnchorKeyAuthorized) ContractEventName() string {
	return TwinAnchorKeyAuthorizedEventName
}

// UnpackKeyAuthorizedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event KeyAuthorized(address indexed signer, uint64 fromEpoch, uint64 untilEpoch)
func (twinAnchor *TwinAnchor) UnpackKeyAuthorizedEvent(log *types.Log) (*TwinAnchorKeyAuthorized, error) {
	event := "KeyAuthorized"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != twinAnchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(TwinAnchorKeyAuthorized)
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

// TwinAnchorKeyRevoked represents a KeyRevoked event raised by the TwinAnchor contract.
type TwinAnchorKeyRevoked struct {
	Signer  common.Address
	AtBlock uint64
	Raw     *types.Log // Blockchain specific contextual infos
}

const TwinAnchorKeyRevokedEventName = "KeyRevoked"

// ContractEventName returns the user-defined event name.
func (TwinAnchorKeyRevoked) ContractEventName() string {
	return TwinAnchorKeyRevokedEventName
}

// UnpackKeyRevokedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event KeyRevoked(address indexed signer, uint64 atBlock)
func (twinAnchor *TwinAnchor) UnpackKeyRevokedEvent(log *types.Log) (*TwinAnchorKeyRevoked, error) {
	event := "KeyRevoked"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != twinAnchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(TwinAnchorKeyRevoked)
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

// TwinAnchorOwnershipTransferred represents a OwnershipTransferred event raised by the TwinAnchor contract.
type TwinAnchorOwnershipTransferred struct {
	PreviousOwner common.Address
	NewOwner      common.Address
	Raw           *types.Log // Blockchain specific contextual infos
}

const TwinAnchorOwnershipTransferredEventName = "OwnershipTransferred"

// ContractEventName returns the user-defined event name.
func (TwinAnchorOwnershipTransferred) ContractEventName() string {
	return TwinAnchorOwnershipTransferredEventName
}

// UnpackOwnershipTransferredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event OwnershipTransferred(address indexed previousOwner, address indexed newOwner)
func (twinAnchor *TwinAnchor) UnpackOwnershipTransferredEvent(log *types.Log) (*TwinAnchorOwnershipTransferred, error) {
	event := "OwnershipTransferred"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != twinAnchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(TwinAnchorOwnershipTransferred)
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
	if bytes.Equal(raw[:4], twinAnchor.abi.Errors["BadKey"].ID.Bytes()[:4]) {
		return twinAnchor.UnpackBadKeyError(raw[4:])
	}
	if bytes.Equal(raw[:4], twinAnchor.abi.Errors["EmptyRoot"].ID.Bytes()[:4]) {
		return twinAnchor.UnpackEmptyRootError(raw[4:])
	}
	if bytes.Equal(raw[:4], twinAnchor.abi.Errors["InvalidSignature"].ID.Bytes()[:4]) {
		return twinAnchor.UnpackInvalidSignatureError(raw[4:])
	}
	if bytes.Equal(raw[:4], twinAnchor.abi.Errors["NotOwner"].ID.Bytes()[:4]) {
		return twinAnchor.UnpackNotOwnerError(raw[4:])
	}
	if bytes.Equal(raw[:4], twinAnchor.abi.Errors["Unauthorized"].ID.Bytes()[:4]) {
		return twinAnchor.UnpackUnauthorizedError(raw[4:])
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

// TwinAnchorBadKey represents a BadKey error raised by the TwinAnchor contract.
type TwinAnchorBadKey struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error BadKey()
func TwinAnchorBadKeyErrorID() common.Hash {
	return common.HexToHash("0xee9f2d537bde7567f0e60f7e7ee11ce8d6383f6cb525c16217a5d958064efde2")
}

// UnpackBadKeyError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error BadKey()
func (twinAnchor *TwinAnchor) UnpackBadKeyError(raw []byte) (*TwinAnchorBadKey, error) {
	out := new(TwinAnchorBadKey)
	if err := twinAnchor.abi.UnpackIntoInterface(out, "BadKey", raw); err != nil {
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

// TwinAnchorNotOwner represents a NotOwner error raised by the TwinAnchor contract.
type TwinAnchorNotOwner struct {
	Caller common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotOwner(address caller)
func TwinAnchorNotOwnerErrorID() common.Hash {
	return common.HexToHash("0x245aecd3fabbd17d6c3c92dc7f0ab916ea8cbf6fc1862c8b56893090ac3fff4c")
}

// UnpackNotOwnerError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotOwner(address caller)
func (twinAnchor *TwinAnchor) UnpackNotOwnerError(raw []byte) (*TwinAnchorNotOwner, error) {
	out := new(TwinAnchorNotOwner)
	if err := twinAnchor.abi.UnpackIntoInterface(out, "NotOwner", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// TwinAnchorUnauthorized represents a Unauthorized error raised by the TwinAnchor contract.
type TwinAnchorUnauthorized struct {
	Signer common.Address
	Epoch  uint64
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error Unauthorized(address signer, uint64 epoch)
func TwinAnchorUnauthorizedErrorID() common.Hash {
	return common.HexToHash("0xa575c7ee3f5ff7de902bc64b6c52972f95860c0e214c4f4fb769156c32f3946f")
}

// UnpackUnauthorizedError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error Unauthorized(address signer, uint64 epoch)
func (twinAnchor *TwinAnchor) UnpackUnauthorizedError(raw []byte) (*TwinAnchorUnauthorized, error) {
	out := new(TwinAnchorUnauthorized)
	if err := twinAnchor.abi.UnpackIntoInterface(out, "Unauthorized", raw); err != nil {
		return nil, err
	}
	return out, nil
}
