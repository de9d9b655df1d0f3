// SpecVectorTests.swift: checks the code against docs/spec-vectors.txt, the
// companion file of docs/spec.md, so the specification and the code cannot
// drift apart.
import Foundation
import XCTest
@testable import SMTorP
import SMTorPCore

final class SpecVectorTests: XCTestCase {
    struct Vectors {
        var keys: [[String]] = []
        var tls: [[String]] = []
        var addresses: [[String]] = []
        var valid: [[String]] = []
        var invalid: [[String]] = []
        var stamps: [[String]] = []
        var hashcash: [[String]] = []
    }

    static func load() throws -> Vectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/spec-vectors.txt")
        let text = try String(contentsOf: url, encoding: .utf8)
        var v = Vectors()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch fields[0] {
            case "key": v.keys.append(fields)
            case "tls": v.tls.append(fields)
            case "address": v.addresses.append(fields)
            case "valid": v.valid.append(fields)
            case "invalid": v.invalid.append(fields)
            case "stamp": v.stamps.append(fields)
            case "hashcash": v.hashcash.append(fields)
            default: XCTFail("unknown vector line: " + line)
            }
        }
        return v
    }

    func testKeyVectors() throws {
        let v = try Self.load()
        XCTAssertGreaterThanOrEqual(v.keys.count, 3)
        for k in v.keys {
            let seed = hex(k[1])
            var pub = [UInt8](repeating: 0, count: 32)
            XCTAssertEqual(smtorp_ed25519_public_key(seed, &pub), SMTORP_OK)
            XCTAssertEqual(pub, hex(k[2]))
            XCTAssertEqual(try OnionAddress(publicKey: pub).label, k[3])
            XCTAssertEqual(try OnionAddress(validating: Array(k[3].utf8)).publicKey, pub)
            XCTAssertEqual(Base64.encode(try NodeIdentity.expandedSecretKey(seed: seed)), k[4])
        }
    }

    func testTLSFingerprintVectors() throws {
        let v = try Self.load()
        for t in v.tls {
            let spki = hex(t[1])
            var digest = [UInt8](repeating: 0, count: 32)
            XCTAssertEqual(smtorp_sha256(spki, spki.count, &digest), SMTORP_OK)
            XCTAssertEqual(Base32.encode(digest), t[2])
        }
    }

    func testFullAddressVectors() throws {
        let v = try Self.load()
        for a in v.addresses {
            let onion = v.keys[Int(a[2])!][3]
            let label = v.tls[Int(a[3])!][2]
            let built = SMTorPAddress(localPart: a[1], onion: try OnionAddress(validating: Array(onion.utf8)),
                                      fingerprintLabel: label)
            XCTAssertEqual(built.text, a[4])
            guard case .smtorp(let parsed) = try Address.parse(a[4]) else { return XCTFail(a[4]) }
            XCTAssertEqual(parsed, built)
            XCTAssertTrue(parsed.isFull)
            var digest = [UInt8](repeating: 0, count: 32)
            let spki = hex(v.tls[Int(a[3])!][1])
            XCTAssertEqual(smtorp_sha256(spki, spki.count, &digest), SMTORP_OK)
            XCTAssertTrue(parsed.matches(fingerprint: digest))
        }
    }

    func testValidAndInvalidAddressTable() throws {
        let v = try Self.load()
        XCTAssertGreaterThanOrEqual(v.valid.count + v.invalid.count, 40)
        for row in v.valid {
            do {
                let parsed = try Address.parse(row[1])
                XCTAssertEqual(parsed.text, row[3], row[1])
                switch parsed {
                case .smtorp: XCTAssertEqual(row[2], "smtorp", row[1])
                case .legacy: XCTAssertEqual(row[2], "legacy", row[1])
                }
                // Normalised forms are fixed points.
                XCTAssertEqual(try Address.parse(row[3]), parsed, row[1])
            } catch {
                XCTFail(row[1] + ": " + String(describing: error))
            }
        }
        for row in v.invalid {
            XCTAssertThrowsError(try Address.parse(row[1]), row[1]) { error in
                XCTAssertEqual((error as? AddressError)?.name, row[2], row[1])
            }
        }
    }

    /// Proof-of-work stamps (docs/spec.md §5): the text parses to the
    /// fields, the challenge is the one given, the C kernel and the verifier
    /// accept the solution at the stated effort, and a changed solution or
    /// effort is refused.
    func testProofOfWorkStampVectors() throws {
        let v = try Self.load()
        XCTAssertEqual(v.stamps.count, 2)
        XCTAssertEqual(v.hashcash.count, 1)
        func hex(_ text: String) -> [UInt8] {
            stride(from: 0, to: text.count, by: 2).map {
                UInt8(text[text.index(text.startIndex, offsetBy: $0)..<text.index(text.startIndex, offsetBy: $0 + 2)], radix: 16)!
            }
        }
        for row in v.stamps {
            let (algorithm, effort, recipient, date) = (PowAlgorithm(identifier: row[1]), UInt32(row[2])!, row[3], row[4])
            let stamp = try Stamp.parse(row[8])
            XCTAssertEqual(stamp.algorithm, algorithm)
            XCTAssertEqual(stamp.effort, effort)
            XCTAssertEqual(stamp.recipient.text, recipient)
            XCTAssertEqual(stamp.date.text, date)
            XCTAssertEqual(stamp.nonce, hex(row[5]))
            XCTAssertEqual(stamp.solution, hex(row[7]))
            var kernel = CoreProofKernel()
            let challenge = stamp.challenge(hash: kernel.digest)
            XCTAssertEqual(challenge, hex(row[6]))
            XCTAssertEqual(kernel.verify(algorithm: stamp.algorithm, challenge: challenge, effort: effort,
                                         solution: stamp.solution), .valid, row[1])
            var verifier = StampVerifier(registry: AlgorithmRegistry(entries: [
                .init(algorithm: stamp.algorithm, status: .preferred, baseEffort: effort)]),
                store: InMemoryDoubleSpendStore(), kernel: kernel)
            var counter = Argon2VerificationCounter()
            XCTAssertEqual(verifier.verify(stampText: row[8], recipient: stamp.recipient, now: stamp.date.unixSeconds,
                                           argon2: &counter), .accepted)
            var bent = stamp.solution
            bent[bent.count - 1] ^= 0x01
            XCTAssertNotEqual(kernel.verify(algorithm: stamp.algorithm, challenge: challenge, effort: effort,
                                            solution: bent), .valid, row[1] + " with a changed solution")
        }
        for row in v.hashcash {
            let stamp = try Stamp.parse(row[1])
            XCTAssertEqual(stamp.algorithm, .hashcash1)
            XCTAssertEqual(stamp.recipient.text, row[2])
            XCTAssertEqual(stamp.effort, UInt32(1) << UInt32(row[3])!)
            var kernel = CoreProofKernel()
            XCTAssertEqual(kernel.verify(algorithm: .hashcash1, challenge: [], effort: stamp.effort,
                                         solution: stamp.solution), .valid)
        }
    }
}
