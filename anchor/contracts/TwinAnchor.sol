// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title TwinAnchor
/// @notice Stores Merkle roots of custos twin digests, one per (signer, epoch),
/// vouched for by one operator.
///
/// The operator (`owner`: a cold key or a multisig) authorises runtime signer
/// keys, each for a range of epochs, and can revoke them. A runtime signs a
/// root off chain as EIP-712 typed data Anchor(uint64 epoch,bytes32 root,
/// uint32 count) under the domain (name "custos", version "1", chainId, this
/// contract); anyone (a relayer wallet paying gas) may submit it. anchor()
/// recovers the signer and refuses it unless the operator authorised it for
/// that epoch and has not revoked it, so a stored root is attributable to the
/// operator whoever sent the transaction. Auditors pin the operator's
/// address, this contract and the chain id.
///
/// Gas: an anchor writes one fresh storage slot (the root); the count is only
/// in the Anchored log, and the signer's authorisation is one packed slot
/// that anchor() reads but never writes.
contract TwinAnchor {
    /// A signer's authorisation, packed in one slot. untilEpoch == 0: never
    /// authorised. revokedAt: block number of revoke(), 0 if not revoked.
    struct Key {
        uint64 fromEpoch; // first epoch the key may anchor
        uint64 untilEpoch; // first epoch it may no longer anchor
        uint64 revokedAt;
    }

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant ANCHOR_TYPEHASH = keccak256("Anchor(uint64 epoch,bytes32 root,uint32 count)");
    bytes32 private constant NAME_HASH = keccak256("custos");
    bytes32 private constant VERSION_HASH = keccak256("1");
    // secp256k1n / 2: signatures with a higher s are malleable (EIP-2).
    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomain;

    /// @notice The operator: the only account that may authorise and revoke keys.
    address public owner;
    mapping(address signer => Key) private _keys;
    mapping(address signer => mapping(uint64 epoch => bytes32 root)) private _roots;

    /// @notice A root was anchored (count is only recorded here).
    event Anchored(address indexed signer, uint64 indexed epoch, bytes32 root, uint32 count);
    /// @notice The operator authorised signer for epochs [fromEpoch, untilEpoch).
    event KeyAuthorized(address indexed signer, uint64 fromEpoch, uint64 untilEpoch);
    /// @notice The operator revoked signer; it can anchor nothing from this block on.
    event KeyRevoked(address indexed signer, uint64 atBlock);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error InvalidSignature();
    error EmptyRoot();
    error AlreadyAnchored(address signer, uint64 epoch, bytes32 root);
    error Unauthorized(address signer, uint64 epoch);
    error NotOwner(address caller);
    error BadKey();

    /// @param operator the owner (cold key or multisig); signer, if not zero,
    /// is authorised for every epoch so a runtime can anchor at once.
    constructor(address operator, address signer) {
        if (operator == address(0)) revert BadKey();
        _cachedChainId = block.chainid;
        _cachedDomain = _domain();
        owner = operator;
        emit OwnershipTransferred(address(0), operator);
        if (signer != address(0)) _authorize(signer, 0, type(uint64).max);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// @notice Anchors root for the signer recovered from the EIP-2098 compact
    /// signature (r, vs): vs holds s with v - 27 in its top bit.
    function anchor(uint64 epoch, bytes32 root, uint32 count, bytes32 r, bytes32 vs) external {
        if (root == bytes32(0)) revert EmptyRoot();
        address signer = _recover(hashAnchor(epoch, root, count), r, vs);
        Key memory k = _keys[signer];
        if (epoch < k.fromEpoch || epoch >= k.untilEpoch || k.revokedAt != 0) revert Unauthorized(signer, epoch);
        mapping(uint64 => bytes32) storage roots = _roots[signer];
        bytes32 old = roots[epoch];
        if (old != bytes32(0)) revert AlreadyAnchored(signer, epoch, old);
        roots[epoch] = root;
        emit Anchored(signer, epoch, root, count);
    }

    /// @notice The root anchored by signer for epoch; zero if none.
    function rootOf(address signer, uint64 epoch) external view returns (bytes32) {
        return _roots[signer][epoch];
    }

    /// @notice signer's authorisation: epochs [fromEpoch, untilEpoch), and
    /// the block it was revoked in (0: not revoked). untilEpoch 0: unknown key.
    function keyOf(address signer) external view returns (uint64 fromEpoch, uint64 untilEpoch, uint64 revokedAt) {
        Key memory k = _keys[signer];
        return (k.fromEpoch, k.untilEpoch, k.revokedAt);
    }

    /// @notice Authorises signer for epochs [fromEpoch, untilEpoch)
    /// (type(uint64).max: no end), clearing any revocation.
    function authorize(address signer, uint64 fromEpoch, uint64 untilEpoch) external onlyOwner {
        _authorize(signer, fromEpoch, untilEpoch);
    }

    /// @notice Revokes signer from this block on; its earlier anchors stay.
    function revoke(address signer) external onlyOwner {
        Key storage k = _keys[signer];
        if (k.untilEpoch == 0 || k.revokedAt != 0) revert BadKey();
        k.revokedAt = uint64(block.number);
        emit KeyRevoked(signer, uint64(block.number));
    }

    /// @notice Hands over from oldSigner to newSigner at fromEpoch: oldSigner
    /// may anchor only epochs before fromEpoch, newSigner from fromEpoch on.
    function rotate(address oldSigner, address newSigner, uint64 fromEpoch) external onlyOwner {
        Key storage k = _keys[oldSigner];
        if (k.untilEpoch == 0 || oldSigner == newSigner) revert BadKey();
        if (k.untilEpoch > fromEpoch) {
            k.untilEpoch = fromEpoch;
            emit KeyAuthorized(oldSigner, k.fromEpoch, fromEpoch);
        }
        _authorize(newSigner, fromEpoch, type(uint64).max);
    }

    /// @notice Makes newOwner the operator.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert BadKey();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
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
        bytes32 root = _roots[signer][epoch];
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
        return block.chainid == _cachedChainId ? _cachedDomain : _domain();
    }

    /// @notice The EIP-712 digest the runtime key signs for (epoch, root, count).
    function hashAnchor(uint64 epoch, bytes32 root, uint32 count) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(ANCHOR_TYPEHASH, epoch, root, count));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _domain() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    function _authorize(address signer, uint64 fromEpoch, uint64 untilEpoch) private {
        if (signer == address(0) || untilEpoch <= fromEpoch) revert BadKey();
        _keys[signer] = Key(fromEpoch, untilEpoch, 0);
        emit KeyAuthorized(signer, fromEpoch, untilEpoch);
    }

    function _recover(bytes32 digest, bytes32 r, bytes32 vs) private pure returns (address signer) {
        uint256 s = uint256(vs) & ((1 << 255) - 1);
        uint8 v = uint8(uint256(vs) >> 255) + 27;
        if (s > HALF_N) revert InvalidSignature();
        signer = ecrecover(digest, v, r, bytes32(s));
        if (signer == address(0)) revert InvalidSignature();
    }
}
