// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title TwinAnchor
/// @notice Stores Merkle roots of custos twin digests, one per (signer, epoch).
/// The root is signed off chain by the runtime key as EIP-712 typed data
/// Anchor(uint64 epoch,bytes32 root,uint32 count) under the domain
/// (name "custos", version "1", chainId, this contract); anyone (a relayer
/// wallet paying gas) may submit it. The signature is verified here, so a
/// stored root is attributable to its signer whoever sent the transaction.
contract TwinAnchor {
    struct Entry {
        bytes32 root;
        uint32 count;
        uint64 blockNumber;
    }

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant ANCHOR_TYPEHASH = keccak256("Anchor(uint64 epoch,bytes32 root,uint32 count)");
    bytes32 private constant NAME_HASH = keccak256("custos");
    bytes32 private constant VERSION_HASH = keccak256("1");
    // secp256k1n / 2: signatures with a higher s are malleable (EIP-2).
    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    mapping(address signer => mapping(uint64 epoch => Entry)) private _anchors;
    mapping(address signer => uint64) public latestEpoch;

    /// @notice A root was anchored.
    event Anchored(address indexed signer, uint64 indexed epoch, bytes32 root, uint32 count, address relayer);

    error InvalidSignature();
    error EmptyRoot();
    error AlreadyAnchored(address signer, uint64 epoch, bytes32 root);

    /// @notice Anchors root for the signer recovered from signature (65 bytes r ‖ s ‖ v).
    function anchor(uint64 epoch, bytes32 root, uint32 count, bytes calldata signature)
        external
        returns (address signer)
    {
        if (root == bytes32(0)) revert EmptyRoot();
        signer = _recover(hashAnchor(epoch, root, count), signature);
        Entry storage e = _anchors[signer][epoch];
        if (e.root != bytes32(0)) revert AlreadyAnchored(signer, epoch, e.root);
        e.root = root;
        e.count = count;
        e.blockNumber = uint64(block.number);
        if (epoch > latestEpoch[signer]) latestEpoch[signer] = epoch;
        emit Anchored(signer, epoch, root, count, msg.sender);
    }

    /// @notice The anchored root of (signer, epoch); zero if none.
    function rootOf(address signer, uint64 epoch)
        external
        view
        returns (bytes32 root, uint32 count, uint64 blockNumber)
    {
        Entry storage e = _anchors[signer][epoch];
        return (e.root, e.count, e.blockNumber);
    }

    /// @notice Reports whether the leaf (twin, seq, digest) is in the root
    /// anchored by signer for epoch, given its sibling path (OpenZeppelin
    /// StandardMerkleTree leaf, sorted-pair hashing).
    function verifyLeaf(
        address signer,
        uint64 epoch,
        string calldata twin,
        uint64 seq,
        bytes32 digest,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _anchors[signer][epoch].root;
        if (root == bytes32(0)) return false;
        bytes32 h = keccak256(bytes.concat(keccak256(abi.encode(twin, seq, digest))));
        for (uint256 i = 0; i < proof.length; i++) {
            bytes32 p = proof[i];
            h = h < p ? keccak256(abi.encode(h, p)) : keccak256(abi.encode(p, h));
        }
        return h == root;
    }

    /// @notice The EIP-712 domain separator for this chain and contract.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @notice The EIP-712 digest the runtime key signs for (epoch, root, count).
    function hashAnchor(uint64 epoch, bytes32 root, uint32 count) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(ANCHOR_TYPEHASH, epoch, root, count));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _recover(bytes32 digest, bytes calldata sig) private pure returns (address signer) {
        if (sig.length != 65) revert InvalidSignature();
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v < 27) v += 27;
        if ((v != 27 && v != 28) || uint256(s) > HALF_N) revert InvalidSignature();
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
    }
}
