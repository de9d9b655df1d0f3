// OnionAddress.swift: Tor v3 onion service names (rend-spec-v3 §6).
//
//   onion_address = base32(PUBKEY | CHECKSUM | VERSION) + ".onion"
//   CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2]
//   VERSION = 0x03
//
// Untrusted input: none here (derivation from the node's own key). Parsing
// of addresses typed by users belongs to the address module.
import SMTorPCore

/// A Tor v3 onion service name such as `<56 base32 chars>.onion`.
public struct OnionAddress: Equatable, Hashable, Sendable {
    /// The 56-character base32 label, lower case, without ".onion".
    public let label: String

    /// The full host name, `<label>.onion`.
    public var hostname: String { label + ".onion" }

    /// Derives the v3 address of an Ed25519 public key.
    public init(publicKey: [UInt8]) throws(CoreError) {
        guard publicKey.count == 32 else { throw CoreError(SMTORP_ERR_INVALID_ARGUMENT) }
        let version: UInt8 = 3
        var input = Array(".onion checksum".utf8)
        input += publicKey
        input.append(version)
        var digest = [UInt8](repeating: 0, count: 32)
        try CoreError.check(smtorp_sha3_256(input, input.count, &digest))
        label = Base32.encode(publicKey + [digest[0], digest[1], version])
    }
}
