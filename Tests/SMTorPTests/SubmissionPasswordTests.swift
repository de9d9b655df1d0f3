// SubmissionPasswordTests.swift — the password file of the submission
// listener (user:argon2id lines, libsodium) and the SASL PLAIN message
// decoder (RFC 4616), with valid and invalid inputs.

import XCTest
@testable import SMTorP

final class SubmissionPasswordTests: XCTestCase {
    func testEntryThenVerify() throws {
        let alice = try PasswordFile.entry(user: "alice", password: "correct horse")
        let bob = try PasswordFile.entry(user: "bob", password: "battery staple")
        XCTAssertTrue(alice.hasPrefix("alice:$argon2id$v=19$"), alice)
        XCTAssertNotEqual(try PasswordFile.entry(user: "alice", password: "correct horse"), alice, "salted")
        let file = try PasswordFile(parsing: Array(("# users\n\n" + alice + "\r\n" + bob + "\n").utf8))
        XCTAssertEqual(file.users, ["alice", "bob"])
        XCTAssertTrue(file.verify(user: "alice", password: Array("correct horse".utf8)))
        XCTAssertTrue(file.verify(user: "bob", password: Array("battery staple".utf8)))
        XCTAssertFalse(file.verify(user: "alice", password: Array("battery staple".utf8)))
        XCTAssertFalse(file.verify(user: "Alice", password: Array("correct horse".utf8)), "names are exact")
        XCTAssertFalse(file.verify(user: "mallory", password: Array("correct horse".utf8)))
        XCTAssertFalse(file.verify(user: "", password: []))
        XCTAssertFalse(PasswordFile.absentUserHash.isEmpty)
    }

    func testEntryRefusesBadUsersAndEmptyPasswords() {
        let badUsers = ["", "a:b", "#alice", "a\nb", "a\u{7F}", String(repeating: "u", count: 256)]
        for user in badUsers {
            XCTAssertThrowsError(try PasswordFile.entry(user: user, password: "x"), user) { error in
                XCTAssertEqual(error as? PasswordFileError, .invalidUser)
            }
        }
        XCTAssertThrowsError(try PasswordFile.entry(user: "alice", password: "")) { error in
            XCTAssertEqual(error as? PasswordFileError, .emptyPassword)
        }
        XCTAssertNoThrow(try PasswordFile.entry(user: "j\u{FC}rgen", password: "p\u{E4}ss"))
    }

    func testMalformedFiles() throws {
        let hash = "$argon2id$v=19$m=65536,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        let cases: [(String, PasswordFileError)] = [
            ("alice\n", .malformedLine(1)),
            ("# c\nalice:plaintext\n", .malformedLine(2)),
            (":" + hash + "\n", .malformedLine(1)),
            ("alice:" + hash + " trailing\n", .malformedLine(1)),
            ("alice:" + hash + "\nbob:\n", .malformedLine(2)),
            ("alice:" + hash + "\nalice:" + hash + "\n", .duplicateUser(line: 2)),
            ("alice:$argon2id$" + String(repeating: "A", count: 130) + "\n", .malformedLine(1)),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try PasswordFile(parsing: Array(text.utf8)), text) { error in
                XCTAssertEqual(error as? PasswordFileError, expected, text)
            }
        }
        // A well-formed line whose hash is not valid never matches.
        let file = try PasswordFile(parsing: Array(("alice:" + hash).utf8))
        XCTAssertFalse(file.verify(user: "alice", password: Array("anything".utf8)))
        XCTAssertEqual(PasswordFileError.malformedLine(3).message, "password file line 3 is not user:argon2id-hash")
    }

    func testLoadReportsAMissingFile() {
        XCTAssertThrowsError(try PasswordFile.load(path: "/nonexistent/smtorp-passwords")) { error in
            guard case .unreadable? = error as? PasswordFileError else {
                return XCTFail("\(error)")
            }
        }
    }

    func testPlainMessageDecoding() {
        let valid: [([UInt8], AuthPlain)] = [
            ([0] + Array("alice".utf8) + [0] + Array("secret".utf8),
             AuthPlain(authorizationIdentity: "", user: "alice", password: Array("secret".utf8))),
            (Array("alice".utf8) + [0] + Array("alice".utf8) + [0] + Array("s e c r e t".utf8),
             AuthPlain(authorizationIdentity: "alice", user: "alice", password: Array("s e c r e t".utf8))),
            ([0] + Array("j\u{FC}rgen".utf8) + [0] + Array("\u{E4}".utf8),
             AuthPlain(authorizationIdentity: "", user: "j\u{FC}rgen", password: Array("\u{E4}".utf8))),
        ]
        for (message, expected) in valid {
            XCTAssertEqual(AuthPlain(message: message, maxFieldLength: 255), expected)
        }
        XCTAssertTrue(valid[1].1.actsAsItself)
        XCTAssertFalse(AuthPlain(authorizationIdentity: "bob", user: "alice", password: [1]).actsAsItself)
        let invalid: [[UInt8]] = [
            [], [0], [0, 0], [0, 0x61, 0], [0, 0, 0x61], Array("alice".utf8),
            [0, 0x61, 0, 0x62, 0], [0, 0x61, 0, 0xC3], [0xFF, 0, 0x61, 0, 0x62],
            [0] + [UInt8](repeating: 0x61, count: 256) + [0, 0x62],
        ]
        for message in invalid {
            XCTAssertNil(AuthPlain(message: message, maxFieldLength: 255), "\(message.prefix(12))")
        }
        XCTAssertNotNil(AuthPlain(message: [0] + [UInt8](repeating: 0x61, count: 255) + [0, 0x62], maxFieldLength: 255))
    }
}
