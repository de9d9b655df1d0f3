// NodeTests.swift: base32, onion names, Ed25519 seeds, UTC dates, the
// Received header, the configuration parser and the node's recipient policy.
// Reference values were computed independently (Python's hashlib/base64 and
// datetime, RFC 4648 §10 and RFC 8032 §7.1 vectors).
import XCTest
@testable import SMTorP
import SMTorPCore

final class NodeTests: XCTestCase {
    func testBase32RFC4648Vectors() {
        let vectors = [("", ""), ("f", "my"), ("fo", "mzxq"), ("foo", "mzxw6"), ("foob", "mzxw6yq"),
                       ("fooba", "mzxw6ytb"), ("foobar", "mzxw6ytboi")]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base32.encode(Array(plain.utf8)), encoded)
            XCTAssertEqual(Base32.decode(encoded), Array(plain.utf8))
            XCTAssertEqual(Base32.decode(encoded.uppercased()), Array(plain.utf8))
        }
        for bad in ["mzxw1", "mz=q", "my!", "m"] {  // outside the alphabet, or dangling bits
            XCTAssertNil(Base32.decode(bad), bad)
        }
    }

    func testOnionNameOfKnownKeys() throws {
        let vectors: [([UInt8], String)] = [
            ([UInt8](repeating: 0, count: 32), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaam2dqd"),
            ((0..<32).map { UInt8($0) }, "aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyp3kead"),
            ([UInt8](repeating: 0xff, count: 32), "777777777777777777777777777777777777777777777777777vpaqd"),
        ]
        for (key, label) in vectors {
            let onion = try OnionAddress(publicKey: key)
            XCTAssertEqual(onion.label, label)
            XCTAssertEqual(onion.hostname, label + ".onion")
        }
        XCTAssertThrowsError(try OnionAddress(publicKey: [1, 2, 3]))
    }

    func testEd25519PublicKeyOfRFC8032Seed() {
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        var out = [UInt8](repeating: 0, count: 32)
        XCTAssertEqual(smtorp_ed25519_public_key(seed, &out), SMTORP_OK)
        XCTAssertEqual(out, hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
    }

    func testUTCDates() {
        let vectors: [(Int64, String)] = [
            (0, "Thu, 1 Jan 1970 00:00:00 +0000"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
            (1_795_870_800, "Sat, 28 Nov 2026 13:00:00 +0000"),
            (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 +0000"),
            (-1, "Wed, 31 Dec 1969 23:59:59 +0000"),
        ]
        for (t, text) in vectors { XCTAssertEqual(UTCDate(unixSeconds: t).rfc5322, text) }
    }

    func testReceivedHeaderNamesOnlyTheOnionProtocolIdAndUTCDate() {
        let h = String(decoding: ReceivedHeader.render(by: "x.onion", protocolName: "ESMTPS",
                                                       queueID: "abc", unixSeconds: 0), as: UTF8.self)
        XCTAssertEqual(h, "Received: by x.onion with ESMTPS id abc;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n")
    }

    func testConfigurationParsesAndRejectsClearly() throws {
        let c = try Configuration.parse("""
            # a comment
            data_directory = /var/lib/smtorp
            listen = [::1]:2526   # trailing comment
            mailbox = Alice
            mailbox = bob
            domain_alias = test.example
            max_message_size = 2048
            max_recipients = 150
            command_timeout = 30
            log_level = debug
            pow = off
            pow_eqh96-5 = 16
            pow_a2id-1m = 0
            pow_threads = 2

            """)
        XCTAssertEqual(c.dataDirectory, "/var/lib/smtorp")
        XCTAssertEqual(c.listen, ListenAddress(host: "::1", port: 2526))
        XCTAssertEqual(c.listen.text, "[::1]:2526")
        XCTAssertEqual(c.mailboxes, ["alice", "bob"])
        XCTAssertEqual(c.domainAliases, ["test.example"])
        XCTAssertEqual(c.maxMessageSize, 2048)
        XCTAssertEqual(c.maxRecipients, 150)
        XCTAssertEqual(c.commandTimeoutSeconds, 30)
        XCTAssertEqual(c.logLevel, .debug)
        XCTAssertFalse(c.proofOfWork.required)
        XCTAssertEqual(c.proofOfWork.registry.entries.map(\.algorithm), [.equihash96x5, .hashcash1])
        XCTAssertEqual(c.proofOfWork.registry.requiredEffort(for: .equihash96x5, at: 0), 16)
        XCTAssertEqual(c.proofOfWork.solverThreads, 2)
        XCTAssertTrue(Configuration().proofOfWork.required, "on by default")
        // What `smtorp init` writes parses back to the same settings.
        XCTAssertEqual(try Configuration.parse(c.fileText).proofOfWork, c.proofOfWork)

        let bad: [(String, String)] = [
            ("mailbox alice", "line 1: expected `key = value`"),
            ("\n\ncolour = red", "line 3: unknown setting `colour`"),
            ("max_recipients = 99", "line 1: max_recipients: expected a whole number from 100 to 100000, got `99`"),
            ("max_message_size = 1e6", "line 1: max_message_size: expected a whole number from 1024 to 2147483648, got `1e6`"),
            ("listen = localhost", "line 1: listen: expected host:port or [ipv6]:port, got `localhost`"),
            ("listen = 127.0.0.1:70000", "line 1: listen: expected host:port or [ipv6]:port, got `127.0.0.1:70000`"),
            ("mailbox = ../etc", "line 1: mailbox: `../etc` is not a valid mailbox name (letters, digits, . _ - only, at most 64)"),
            ("mailbox = a/b", "line 1: mailbox: `a/b` is not a valid mailbox name (letters, digits, . _ - only, at most 64)"),
            ("domain_alias = -x.example", "line 1: domain_alias: `-x.example` is not a domain name"),
            ("log_level = loud", "line 1: log_level: expected debug, info, warning or error"),
            ("mailbox =", "line 1: mailbox: missing value"),
            ("pow = maybe", "line 1: pow: expected on or off"),
            ("pow_eqh96-5 = -1", "line 1: pow_eqh96-5: expected a whole number from 0 to 4294967295, got `-1`"),
            ("pow_threads = 65", "line 1: pow_threads: expected a whole number from 0 to 64, got `65`"),
        ]
        for (text, message) in bad {
            XCTAssertThrowsError(try Configuration.parse(text), text) { error in
                XCTAssertEqual((error as? ConfigurationError)?.description, message)
            }
        }
    }

    func testNodePolicyAcceptsOnlyLocalMailboxesAtTheNodesDomains() {
        let onion = "aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyp3kead.onion"
        let label = "mzxw6ytboimzxw6ytboimzxw6ytboimzxw6ytboimzxw6ytboiab"
        let policy = NodePolicy(onionHostname: onion, fingerprintLabel: label,
                                aliases: ["alias.test"], mailboxes: ["alice"])
        func box(_ local: String, _ domain: String, quoted: Bool = false) -> Mailbox {
            Mailbox(localPart: local, domain: domain, isQuotedLocalPart: quoted)
        }
        let accepted = [box("alice", onion), box("ALICE", onion.uppercased()), box("alice", "alias.test"),
                        box("alice", label + "." + onion), box("alice", String(label.prefix(16)) + "." + onion)]
        for m in accepted { XCTAssertEqual(policy.decide(m), .accept, m.localPart + "@" + m.domain) }
        let relay = [box("alice", "other.example"), box("alice%other.example", onion),
                     box("alice!other", onion), box("alice@other.example", onion, quoted: true),
                     box("alice", onion, quoted: true), box("alice", "[127.0.0.1]"),
                     box("alice", onion + ".other.example"),
                     box("alice", String(label.prefix(15)) + "." + onion),   // label too short
                     box("alice", "aaaaaaaaaaaaaaaa." + onion),              // not our fingerprint
                     box("alice", label + "x." + onion)]                     // longer than ours
        for m in relay {
            guard case .reject(let reply) = policy.decide(m) else {
                return XCTFail("accepted " + m.localPart + "@" + m.domain)
            }
            XCTAssertEqual(reply.code, 550)
            XCTAssertEqual(reply.enhanced, EnhancedStatusCode(5, 7, 1))
        }
        guard case .reject(let unknown) = policy.decide(box("mallory", onion)) else { return XCTFail() }
        XCTAssertEqual(unknown.code, 550)
        XCTAssertEqual(unknown.enhanced, EnhancedStatusCode(5, 1, 1))
    }

    func testDurableFileRefusesToReplaceAndMaildirDelivers() throws {
        let dir = NSTemporaryDirectory() + "smtorp-node-tests-" + String(getpid())
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let maildir = try Maildir(root: dir)
        let path = try maildir.deliver(mailbox: "alice", uniqueName: "1.x.smtorp",
                                       parts: [Array("a: b\r\n".utf8), Array("\r\nbody\r\n".utf8)])
        XCTAssertEqual(path, dir + "/alice/new/1.x.smtorp")
        XCTAssertEqual(try DurableFile.read(path: path, maxLength: 100), Array("a: b\r\n\r\nbody\r\n".utf8))
        XCTAssertThrowsError(try maildir.deliver(mailbox: "alice", uniqueName: "1.x.smtorp", parts: [[1]])) {
            XCTAssertTrue(($0 as? CoreError)?.isExists ?? false)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/alice/tmp"), [])
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? Int) ?? 0, 0o600)
    }

    func testNodeIdentityIsCreatedOnceAndReloaded() throws {
        let dir = NSTemporaryDirectory() + "smtorp-identity-" + String(getpid())
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try NodeIdentity.loadOrCreate(dataDirectory: dir)
        let b = try NodeIdentity.loadOrCreate(dataDirectory: dir)
        XCTAssertEqual(a.onion, b.onion)
        XCTAssertEqual(a.fingerprint, b.fingerprint)
        XCTAssertEqual(a.fingerprintLabel.count, 52)
        XCTAssertEqual(a.onion.label.count, 56)
        // A truncated seed is an error, not a new identity.
        try FileManager.default.removeItem(atPath: dir + "/onion_ed25519_seed")
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/onion_ed25519_seed", contents: Data([1, 2, 3])))
        XCTAssertThrowsError(try NodeIdentity.loadOrCreate(dataDirectory: dir))
    }
}

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = s.utf8.makeIterator()
    while let a = it.next(), let b = it.next() {
        out.append(UInt8(String(decoding: [a, b], as: UTF8.self), radix: 16)!)
    }
    return out
}
