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
}
