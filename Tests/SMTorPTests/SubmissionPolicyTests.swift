// SubmissionPolicyTests.swift — the submission listener's recipient policy
// on its own: local mailboxes, SMTorP and legacy recipients, invalid onion
// names, and the mixing rule in both directions.

import XCTest
@testable import SMTorP

final class SubmissionPolicyTests: XCTestCase {
    let onion = SubmissionNode.onion
    let remote = SubmissionNode.remote

    func box(_ text: String) -> Mailbox {
        let at = text.lastIndex(of: "@")!
        return Mailbox(localPart: String(text[..<at]), domain: String(text[text.index(after: at)...]))
    }

    func testClassification() {
        let policy = SubmissionNode.policy
        let cases: [(String, SubmissionPolicy.Classification)] = [
            ("carol@" + remote, .recipient(.smtorp)),
            ("carol@" + String(SubmissionNode.label.prefix(20)) + "." + remote, .recipient(.smtorp)),
            ("alice@" + onion, .recipient(.smtorp)),
            ("bob@" + String(SubmissionNode.label.prefix(16)) + "." + onion, .recipient(.smtorp)),
            ("alice@alias.test", .recipient(.smtorp)),
            ("dave@example.org", .recipient(.legacy)),
            ("dave@[192.0.2.1]", .recipient(.legacy)),
            ("nobody@" + onion, .refused(.mailboxUnavailable)),
            ("alice%x@" + onion, .refused(.relayDenied)),
            // The node's onion with a fingerprint label that is not its own.
            ("alice@" + String(repeating: "a", count: 16) + "." + onion, .refused(.relayDenied)),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(policy.classify(box(text)), expected, text)
        }
        guard case .refused(let reply) = policy.classify(box("carol@abcdefghijklmnop.onion")) else {
            return XCTFail("a v2 onion name is refused")
        }
        XCTAssertEqual(reply.code, 553)
        XCTAssertEqual(reply.enhanced, EnhancedStatusCode(5, 1, 3))
        XCTAssertTrue(reply.lines[0].hasPrefix("Invalid recipient address: this is a version 2 onion address"),
                      reply.lines[0])
        guard case .refused(let checksum) = policy.classify(box("carol@" + String(remote.dropFirst().prefix(55)) + "a.onion")) else {
            return XCTFail("a bad checksum is refused")
        }
        XCTAssertEqual(checksum.code, 553)
    }

    func testMixingRuleAndSmarthost() {
        let policy = SubmissionNode.policy
        let smtorp = box("carol@" + remote)
        let legacy = box("dave@example.org")
        XCTAssertEqual(policy.decide(smtorp), .accept)
        XCTAssertEqual(policy.decide(legacy), .reject(.legacyRecipientNeedsSmarthost))
        XCTAssertEqual(policy.decide(legacy, accepted: [smtorp]), .reject(.mixedRecipients))
        XCTAssertEqual(policy.decide(box("alice@" + onion), accepted: [smtorp]), .accept)
        XCTAssertEqual(Reply.mixedRecipients.lines,
                       ["Mixing SMTorP and legacy recipients in one message is refused "
                        + "(legacy recipients could not reply to all)"])
        XCTAssertEqual(Reply.legacyRecipientNeedsSmarthost.lines,
                       ["legacy (non-onion) recipients need a smarthost, none is configured"])

        // With a smarthost, legacy recipients pass, and mixing is refused
        // both ways.
        let relaying = SubmissionPolicy(node: policy.node, hasSmarthost: true)
        XCTAssertEqual(relaying.decide(legacy), .accept)
        XCTAssertEqual(relaying.decide(box("erin@example.net"), accepted: [legacy]), .accept)
        XCTAssertEqual(relaying.decide(smtorp, accepted: [legacy]), .reject(.mixedRecipients))
        XCTAssertEqual(relaying.decide(box("alice@alias.test"), accepted: [legacy]), .reject(.mixedRecipients))
        XCTAssertEqual(relaying.decide(legacy, accepted: [box("alice@" + onion)]), .reject(.mixedRecipients))
    }
}
