// SendmailInvocationTests.swift: sendmail(1) flags as MUAs pass them, and -t.
import XCTest
@testable import SMTorP

final class SendmailInvocationTests: XCTestCase {
    func testFlagsMUAsUse() throws {
        // mutt/neomutt: sendmail -oi -- rcpt; git send-email: -i -f sender rcpt
        XCTAssertEqual(try SendmailInvocation.parse(["-oi", "--", "a@x.onion", "b@x.onion"]).recipients,
                       ["a@x.onion", "b@x.onion"])
        let git = try SendmailInvocation.parse(["-i", "-f", "me@y.onion", "a@x.onion"])
        XCTAssertEqual(git.sender, "me@y.onion")
        XCTAssertTrue(git.ignoreDots)
        let t = try SendmailInvocation.parse(["-t", "-fme@y.onion", "-FMe Myself", "-oem", "-odb"])
        XCTAssertTrue(t.recipientsFromHeaders)
        XCTAssertEqual(t.sender, "me@y.onion")
        XCTAssertEqual(t.fullName, "Me Myself")
        XCTAssertEqual(try SendmailInvocation.parse(["--", "-odd@x.onion"]).recipients, ["-odd@x.onion"])
        XCTAssertThrowsError(try SendmailInvocation.parse(["-f"])) {
            XCTAssertEqual($0 as? SendmailInvocation.Error, .missingValue("-f"))
        }
        XCTAssertThrowsError(try SendmailInvocation.parse(["-bp"])) {
            XCTAssertEqual($0 as? SendmailInvocation.Error, .unknownOption("-bp"))
        }
    }

    func testRecipientsFromHeadersAndBccRemoved() {
        let message = Array(("To: Alice <alice@a.onion>, bob@b.onion\nCc: \"Smith, C\" <carol@c.onion> (work)\n"
            + "Bcc: dave@d.onion\nSubject: hi\n  folded\n\nbody line\n.\n").utf8)
        let (out, rcpts) = SendmailInvocation.prepare(message: message, extractRecipients: true)
        XCTAssertEqual(rcpts, ["alice@a.onion", "bob@b.onion", "carol@c.onion", "dave@d.onion"])
        let text = String(decoding: out, as: UTF8.self)
        XCTAssertFalse(text.contains("Bcc"))
        XCTAssertTrue(text.contains("Subject: hi\r\n  folded\r\n\r\nbody line\r\n.\r\n"))
        XCTAssertFalse(text.contains("\n\n"))
        // Without -t the recipients are not taken, but Bcc still goes.
        let (_, none) = SendmailInvocation.prepare(message: message, extractRecipients: false)
        XCTAssertEqual(none, [])
        XCTAssertEqual(SendmailInvocation.addresses(in: Array(" undisclosed: a@x.onion, b@y.onion;".utf8)),
                       ["a@x.onion", "b@y.onion"])
    }
}
