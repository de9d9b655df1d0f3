// NodeIdentity.swift: the node's long-term keys in its data directory.
//
//   <data>/onion_ed25519_seed   32 random bytes, 0600: the onion service key
//   <data>/tls_key.pem          ECDSA P-256 key, 0600
//   <data>/tls_cert.pem         self-signed certificate for that key, 0600
//
// The onion address is derived from the seed (rend-spec-v3 §6); the SMTorP
// fingerprint label is the base32 SHA-256 of the certificate's DER
// SubjectPublicKeyInfo (docs/spec.md). Files are created once, durably, and
// never replaced: losing them changes the node's address.
//
// Untrusted input: the files themselves (a truncated seed is an error).
import SMTorPCore

/// The node's onion address and TLS identity, loaded or created on disk.
public struct NodeIdentity: Sendable {
    /// The node's own onion service name.
    public let onion: OnionAddress
    /// SHA-256 of the DER SubjectPublicKeyInfo of the TLS certificate.
    public let fingerprint: [UInt8]
    /// Path of the PEM certificate.
    public let certificatePath: String
    /// Path of the PEM private key.
    public let keyPath: String
    /// Path of the onion service seed.
    public let seedPath: String

    /// The 52-character base32 fingerprint label used in full addresses.
    public var fingerprintLabel: String { Base32.encode(fingerprint) }

    /// The node's domain with the full fingerprint label in front.
    public var fullDomain: String { fingerprintLabel + "." + onion.hostname }

    /// Loads the identity in `dataDirectory`, creating whatever is missing
    /// (the directory itself with mode 0700).
    public static func loadOrCreate(dataDirectory: String) throws(CoreError) -> NodeIdentity {
        try CoreError.check(smtorp_fs_make_directory(dataDirectory, 0o700), context: dataDirectory)
        let seedPath = dataDirectory + "/onion_ed25519_seed"
        let keyPath = dataDirectory + "/tls_key.pem"
        let certificatePath = dataDirectory + "/tls_cert.pem"

        if smtorp_fs_exists(seedPath) == 0 {
            var seed = [UInt8](repeating: 0, count: 32)
            try CoreError.check(smtorp_random_bytes(&seed, 32))
            try DurableFile.write(path: seedPath, parts: [seed])
        }
        let seed = try DurableFile.read(path: seedPath, maxLength: 64)
        guard seed.count == 32 else {
            throw CoreError(SMTORP_ERR_CRYPTO, context: seedPath + " is not a 32-byte seed")
        }
        var publicKey = [UInt8](repeating: 0, count: 32)
        try CoreError.check(smtorp_ed25519_public_key(seed, &publicKey))
        let onion = try OnionAddress(publicKey: publicKey)

        let haveKey = smtorp_fs_exists(keyPath) != 0
        let haveCertificate = smtorp_fs_exists(certificatePath) != 0
        if !haveKey && !haveCertificate {
            try CoreError.check(
                smtorp_tls_generate_identity(keyPath, certificatePath, onion.hostname),
                context: "generating the TLS identity")
        } else if haveKey != haveCertificate {
            throw CoreError(SMTORP_ERR_TLS_KEY, context: "only one of " + keyPath + " and "
                + certificatePath + " exists; restore the other or remove both")
        }
        var fingerprint = [UInt8](repeating: 0, count: 32)
        try CoreError.check(smtorp_tls_certificate_spki_sha256(certificatePath, &fingerprint),
                            context: certificatePath)
        return NodeIdentity(onion: onion, fingerprint: fingerprint,
                            certificatePath: certificatePath, keyPath: keyPath, seedPath: seedPath)
    }

    /// The onion key as Tor's control port takes it in
    /// `ADD_ONION ED25519-V3:<blob>`: base64 of the 64-byte expanded secret
    /// key, SHA-512(seed) with the scalar half clamped (RFC 8032 §5.1.5), the
    /// form Tor keeps in hs_ed25519_secret_key. Deriving it from the seed
    /// means the same key can also sign with libsodium. Secret: never log it.
    public func torPrivateKeyBlob() throws(CoreError) -> String {
        let seed = try DurableFile.read(path: seedPath, maxLength: 64)
        guard seed.count == 32 else {
            throw CoreError(SMTORP_ERR_CRYPTO, context: seedPath + " is not a 32-byte seed")
        }
        return "ED25519-V3:" + Base64.encode(try Self.expandedSecretKey(seed: seed))
    }

    /// SHA-512(seed), clamped: Tor's expanded ed25519 secret key.
    public static func expandedSecretKey(seed: [UInt8]) throws(CoreError) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 64)
        try CoreError.check(smtorp_sha512(seed, seed.count, &h))
        h[0] &= 248
        h[31] &= 63
        h[31] |= 64
        return h
    }
}
