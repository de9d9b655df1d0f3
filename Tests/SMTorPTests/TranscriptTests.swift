// TranscriptTests.swift — golden transcripts of the ESMTP server session.
//
// Each Transcripts/NAME.in holds the client side, one line per line, sent
// with CRLF; `<ready>` is the .ready input, `<stored ID>` answers the
// outstanding .store with .stored(queueID: ID), `<tempfail TEXT>` with
// .temporaryFailure(TEXT), `<timeout>` is the .timeout input. NAME.ref holds
// the exact reply bytes, CRs removed. Set SMTORP_UPDATE_TRANSCRIPTS=1 to
// rewrite the .ref files from the current behaviour (then review the diff).

import Foundation
import XCTest
@testable import SMTorP

final class TranscriptTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Transcripts")

    func testTranscripts() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path)
            .filter { $0.hasSuffix(".in") }
            .map { String($0.dropLast(3)) }
            .sorted()
        XCTAssertGreaterThanOrEqual(names.count, 4)
        let update = ProcessInfo.processInfo.environment["SMTORP_UPDATE_TRANSCRIPTS"] == "1"
        for name in names {
            let input = try String(contentsOf: Self.directory.appendingPathComponent(name + ".in"), encoding: .utf8)
            let output = Self.run(input)
            let referenceURL = Self.directory.appendingPathComponent(name + ".ref")
            if update {
                try output.write(to: referenceURL, atomically: true, encoding: .utf8)
                continue
            }
            let reference = try String(contentsOf: referenceURL, encoding: .utf8)
            XCTAssertEqual(output, reference, "transcript \(name)")
        }
    }

    /// Drives a session through the client side of a transcript and returns
    /// the replies as rendered, CRs removed.
    static func run(_ input: String) -> String {
        var wire = Wire(autoStore: nil)
        var lines = input.components(separatedBy: "\n")
        if lines.last == "" {
            lines.removeLast()
        }
        for line in lines {
            if line == "<ready>" {
                wire.input(.ready)
            } else if line == "<timeout>" {
                wire.input(.timeout)
            } else if line.hasPrefix("<stored "), line.hasSuffix(">") {
                wire.input(.stored(.stored(queueID: String(line.dropFirst(8).dropLast()))))
            } else if line.hasPrefix("<tempfail "), line.hasSuffix(">") {
                wire.input(.stored(.temporaryFailure(String(line.dropFirst(10).dropLast()))))
            } else {
                wire.send(line)
            }
        }
        return String(decoding: wire.transcript.filter { $0 != 0x0D }, as: UTF8.self)
    }
}
