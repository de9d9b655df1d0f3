// SOCKSErrorTests.swift: every value smtorp_conn_socks_error() can report
// maps to its SOCKSError case and back to its reply byte, with the retry
// verdict and text each case documents. The codes come from RFC 1928 §6 and
// tor(1) ExtendedErrors (proposal 304); the negative ones from
// smtorp_core.h, checked against the C header itself.
import XCTest
@testable import SMTorP
import SMTorPCore

final class SOCKSErrorTests: XCTestCase {
    /// (code, case, isTemporary) for every code with a name.
    let table: [(Int32, SOCKSError, Bool)] = [
        (0x01, .generalFailure, true),
        (0x02, .notAllowed, false),
        (0x03, .networkUnreachable, true),
        (0x04, .hostUnreachable, true),
        (0x05, .connectionRefused, true),
        (0x06, .ttlExpired, true),
        (0x07, .commandNotSupported, false),
        (0x08, .addressTypeNotSupported, false),
        (0xF0, .onionDescriptorNotFound, true),
        (0xF1, .onionDescriptorInvalid, true),
        (0xF2, .onionIntroductionFailed, true),
        (0xF3, .onionRendezvousFailed, true),
        (0xF4, .onionClientAuthMissing, false),
        (0xF5, .onionClientAuthWrong, false),
        (0xF6, .onionAddressInvalid, false),
        (0xF7, .onionIntroductionTimedOut, true),
        (-1, .noAcceptableMethod, false),
        (-2, .authenticationFailed, false),
        (-3, .protocolError, false),
    ]

    func testEveryNamedCode() {
        for (code, expected, temporary) in table {
            let error = SOCKSError(code: code)
            XCTAssertEqual(error, expected, "code \(code)")
            XCTAssertEqual(error.isTemporary, temporary, "code \(code)")
            XCTAssertFalse(error.summary.isEmpty)
            if code > 0 {
                XCTAssertEqual(error.replyCode, UInt8(code))
                XCTAssertTrue(error.summary.hasSuffix("(" + SOCKSError.hex(UInt8(code)) + ")"),
                              error.summary)
            } else {
                XCTAssertNil(error.replyCode)
            }
        }
        // Every case has its own text.
        XCTAssertEqual(Set(table.map { $0.1.summary }).count, table.count)
    }

    func testEveryReplyByte() {
        // All 255 failure bytes map to a case that gives the byte back.
        for byte in 1...255 {
            let error = SOCKSError(code: Int32(byte))
            XCTAssertEqual(error.replyCode, UInt8(byte), "byte \(byte)")
            let named = (0x01...0x08).contains(byte) || (0xF0...0xF7).contains(byte)
            if named {
                if case .unknownReply = error { XCTFail("byte \(byte) is named") }
            } else {
                XCTAssertEqual(error, .unknownReply(UInt8(byte)))
                XCTAssertTrue(error.isTemporary)
            }
        }
        XCTAssertEqual(SOCKSError(code: 0x09).summary, "Tor: unknown SOCKS reply 0x09")
        XCTAssertEqual(SOCKSError(code: 0xF8).summary, "Tor: unknown SOCKS reply 0xF8")
        XCTAssertEqual(SOCKSError(code: 0xFF).summary, "Tor: unknown SOCKS reply 0xFF")
    }

    func testOutOfRangeValuesAreProtocolErrors() {
        for code: Int32 in [0, -4, -100, 256, 0x1F0, Int32.max, Int32.min] {
            XCTAssertEqual(SOCKSError(code: code), .protocolError, "code \(code)")
        }
    }

    func testNegativeCodesMatchTheCHeader() {
        XCTAssertEqual(SOCKSError(code: Int32(SMTORP_SOCKS_NO_ACCEPTABLE_METHOD)), .noAcceptableMethod)
        XCTAssertEqual(SOCKSError(code: Int32(SMTORP_SOCKS_AUTH_FAILED)), .authenticationFailed)
        XCTAssertEqual(SOCKSError(code: Int32(SMTORP_SOCKS_PROTOCOL_ERROR)), .protocolError)
        XCTAssertEqual(SOCKSError.noAcceptableMethodCode, Int32(SMTORP_SOCKS_NO_ACCEPTABLE_METHOD))
        XCTAssertEqual(SOCKSError.authenticationFailedCode, Int32(SMTORP_SOCKS_AUTH_FAILED))
        XCTAssertEqual(SOCKSError.protocolErrorCode, Int32(SMTORP_SOCKS_PROTOCOL_ERROR))
    }

    func testTypedThrow() {
        func refuse() throws(SOCKSError) { throw SOCKSError(code: 0xF0) }
        do {
            try refuse()
            XCTFail("no throw")
        } catch {
            XCTAssertEqual(error, .onionDescriptorNotFound)
            XCTAssertTrue(error.isTemporary)
        }
    }
}
