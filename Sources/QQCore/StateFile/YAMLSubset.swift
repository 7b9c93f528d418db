// The YAML subset of the state file (R34): block mappings and sequences, flow collections,
// plain / single-quoted / double-quoted scalars with line folding, comments, BOM, CRLF.
// It builds an untyped tree; `InfoFileCodec` gives the scalars their meaning by field (R35).
// Works on UTF-8 bytes with bounds-checked access only, so no input can make it trap.

/// A scalar as written: its text after unquoting/folding, how it was written, where it starts.
struct YAMLScalar: Sendable, Hashable {
    enum Style: Sendable, Hashable { case plain, singleQuoted, doubleQuoted }
    var text: String
    var style: Style
    /// Byte offset in the (normalised) document, for error lines.
    var offset: Int

    /// R35: an unquoted `null`, `Null`, `NULL`, `~` or empty value means "absent".
    var isNull: Bool {
        style == .plain && (text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL")
    }
}

struct YAMLEntry: Sendable {
    var key: String
    var keyOffset: Int
    var value: YAMLNode
}

indirect enum YAMLNode: Sendable {
    case scalar(YAMLScalar)
    case mapping([YAMLEntry], offset: Int)
    case sequence([YAMLNode], offset: Int)

    var offset: Int {
        switch self {
        case .scalar(let s): return s.offset
        case .mapping(_, let o), .sequence(_, let o): return o
        }
    }
}

/// A syntax error at a byte offset of the normalised document.
struct YAMLSyntaxError: Error, Sendable {
    var offset: Int
    var message: String
}

/// A parsed document: the top-level keys the caller knows, parsed, and the others kept verbatim.
struct YAMLDocument: Sendable {
    var entries: [YAMLEntry]
    var unknown: [RawEntry]
    /// The normalised bytes (BOM dropped, CRLF → LF), for turning offsets into line numbers.
    var bytes: [UInt8]

    func lineNumber(at offset: Int) -> Int {
        var line = 1
        var i = 0
        let end = min(max(offset, 0), bytes.count)
        while i < end {
            if bytes[i] == 10 { line += 1 }
            i += 1
        }
        return line
    }
}

// Byte values used by the scanner, as Int so that "end of input" (-1) fits beside them.
private let SP = 32, TAB = 9, LF = 10, HASH = 35, COLON = 58, DASH = 45, SQ = 39, DQ = 34, BS = 92
private let LBR = 91, RBR = 93, LBC = 123, RBC = 125, COMMA = 44, EOF = -1

struct YAMLSubsetParser {
    private let b: [UInt8]
    private var pos = 0
    /// Nesting limit: deep input must fail, not exhaust the stack.
    private static let maxDepth = 32

    /// The bytes offsets refer to: BOM dropped, line breaks normalised to `\n`.
    var normalisedBytes: [UInt8] { b }

    init(bytes input: [UInt8]) {
        var start = 0
        if input.count >= 3, input[0] == 0xEF, input[1] == 0xBB, input[2] == 0xBF { start = 3 }
        if !input.contains(13) {
            b = start == 0 ? input : Array(input[start...])
            return
        }
        // `\r\n` (and a lone `\r`) become `\n`, so the scanner knows one line break only.
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = start
        while i < input.count {
            let c = input[i]
            if c == 13 {
                out.append(10)
                if i + 1 < input.count, input[i + 1] == 10 { i += 1 }
            } else {
                out.append(c)
            }
            i += 1
        }
        b = out
    }

    /// Parses the whole document. Top-level keys for which `isKnown` is false are not parsed;
    /// their lines are kept verbatim (R35).
    mutating func parseDocument(isKnown: (String) -> Bool) throws(YAMLSyntaxError) -> YAMLDocument {
        var entries: [YAMLEntry] = []
        var unknown: [RawEntry] = []
        var seen = Set<String>()
        skipEmptyLines()
        if isMarker("---") {
            pos += 3
            try expectLineEnd()
        }
        while true {
            skipEmptyLines()
            if pos >= b.count { break }
            if isMarker("...") {
                pos += 3
                try expectLineEnd()
                skipEmptyLines()
                if pos < b.count { throw YAMLSyntaxError(offset: pos, message: "expected the end of the file") }
                break
            }
            if isMarker("---") { throw YAMLSyntaxError(offset: pos, message: "multiple documents are not supported") }
            let indent = indentation(at: pos)
            if indent > 0 { throw YAMLSyntaxError(offset: pos + indent, message: "unexpected indentation") }
            let lineStart = pos
            let key = try parseKey()
            guard seen.insert(key).inserted else {
                throw YAMLSyntaxError(offset: lineStart, message: "duplicate key '\(key)'")
            }
            if isKnown(key) {
                let value = try parseValueAfterKey(parentIndent: 0, ownerOffset: lineStart, depth: 1)
                entries.append(YAMLEntry(key: key, keyOffset: lineStart, value: value))
            } else {
                unknown.append(captureRaw(key: key, lineStart: lineStart))
            }
        }
        return YAMLDocument(entries: entries, unknown: unknown, bytes: b)
    }

    // MARK: - Lines

    private func at(_ i: Int) -> Int { i >= 0 && i < b.count ? Int(b[i]) : EOF }

    private func isBlank(_ c: Int) -> Bool { c == SP || c == TAB }
    private func isBlankOrBreak(_ c: Int) -> Bool { c == SP || c == TAB || c == LF || c == EOF }

    /// Index of the line break ending the line that contains `i` (or the end of input).
    private func lineEnd(_ i: Int) -> Int {
        var j = i
        while j < b.count, b[j] != 10 { j += 1 }
        return j
    }

    private func indentation(at lineStart: Int) -> Int {
        var n = 0
        while at(lineStart + n) == SP { n += 1 }
        return n
    }

    /// Moves `pos` (at a line start) to the next line with content other than a comment.
    private mutating func skipEmptyLines() {
        while pos < b.count {
            var i = pos
            while isBlank(at(i)) { i += 1 }
            let c = at(i)
            if c == EOF { pos = b.count; return }
            if c == LF { pos = i + 1; continue }
            if c == HASH { pos = min(lineEnd(i) + 1, b.count); continue }
            return
        }
    }

    private func isMarker(_ marker: StaticString) -> Bool {
        let m = marker.utf8Start
        for k in 0..<marker.utf8CodeUnitCount where at(pos + k) != Int(m[k]) { return false }
        return isBlankOrBreak(at(pos + marker.utf8CodeUnitCount))
    }

    /// After a value: only blanks and a comment may follow on the line. Moves past the line break.
    private mutating func expectLineEnd() throws(YAMLSyntaxError) {
        while isBlank(at(pos)) { pos += 1 }
        if at(pos) == HASH { pos = lineEnd(pos) }
        let c = at(pos)
        if c == LF { pos += 1; return }
        if c == EOF { return }
        throw YAMLSyntaxError(offset: pos, message: "unexpected text after the value")
    }

    // MARK: - Unknown keys

    /// R35: the key line, then every line that is blank, indented, or a `-` item in column 0.
    /// Trailing blank lines are not part of the entry (they would grow the file on every rewrite).
    private mutating func captureRaw(key: String, lineStart: Int) -> RawEntry {
        var contentEnd = lineEnd(lineStart)
        var next = contentEnd + 1
        while next < b.count {
            let end = lineEnd(next)
            let c = at(next)
            var isBlankLine = true
            var i = next
            while i < end { if !isBlank(Int(b[i])) { isBlankLine = false; break }; i += 1 }
            if isBlankLine {
                // Kept only if content follows; decided when that content comes.
            } else if c == SP || c == TAB || (c == DASH && isBlankOrBreak(at(next + 1))) {
                contentEnd = end
            } else {
                break
            }
            next = end + 1
        }
        pos = min(contentEnd + 1, b.count)
        let text = String(decoding: b[lineStart..<contentEnd], as: UTF8.self) + "\n"
        return RawEntry(key: key, text: text)
    }

    // MARK: - Block structure

    /// A mapping key at `pos`, up to and including its `:`.
    private mutating func parseKey() throws(YAMLSyntaxError) -> String {
        let start = pos
        let c = at(pos)
        if c == SQ || c == DQ {
            let s = c == SQ ? try parseSingleQuoted() : try parseDoubleQuoted()
            while isBlank(at(pos)) { pos += 1 }
            guard at(pos) == COLON, isBlankOrBreak(at(pos + 1)) else {
                throw YAMLSyntaxError(offset: start, message: "expected a 'key: value' line")
            }
            pos += 1
            return s.text
        }
        if c == EOF || c == LF || c == TAB || startsIndicator(c, next: at(pos + 1), flow: false) {
            throw YAMLSyntaxError(offset: start, message: "expected a 'key: value' line")
        }
        var i = pos
        while true {
            let d = at(i)
            if d == EOF || d == LF || (d == HASH && isBlank(at(i - 1))) {
                throw YAMLSyntaxError(offset: start, message: "expected a 'key: value' line")
            }
            if d == COLON && isBlankOrBreak(at(i + 1)) { break }
            i += 1
        }
        var end = i
        while end > pos, isBlank(Int(b[end - 1])) { end -= 1 }
        pos = i + 1
        return String(decoding: b[start..<end], as: UTF8.self)
    }

    /// The value after `key:`: on the same line, or a block below it, or nothing (null).
    private mutating func parseValueAfterKey(parentIndent: Int, ownerOffset: Int, depth: Int)
        throws(YAMLSyntaxError) -> YAMLNode {
        while isBlank(at(pos)) { pos += 1 }
        let c = at(pos)
        if c == LF || c == EOF || c == HASH {
            let nullOffset = pos
            pos = min(lineEnd(pos) + 1, b.count)
            return try parseBlockBelow(parentIndent: parentIndent, nullOffset: nullOffset,
                                       itemsAtSameIndent: true, depth: depth)
        }
        let node = try parseInline(parentIndent: parentIndent, depth: depth)
        try expectLineEnd()
        return node
    }

    /// What follows a key (or `-`) that has nothing after it on its line. Sequence items may sit
    /// at the key's own indentation (PyYAML's layout); anything else must be deeper.
    private mutating func parseBlockBelow(parentIndent: Int, nullOffset: Int, itemsAtSameIndent: Bool,
                                          depth: Int) throws(YAMLSyntaxError) -> YAMLNode {
        guard depth <= Self.maxDepth else { throw YAMLSyntaxError(offset: pos, message: "nesting is too deep") }
        skipEmptyLines()
        let null = YAMLNode.scalar(YAMLScalar(text: "", style: .plain, offset: nullOffset))
        if pos >= b.count { return null }
        let indent = indentation(at: pos)
        let first = pos + indent
        let isItem = at(first) == DASH && isBlankOrBreak(at(first + 1))
        if isItem && (indent > parentIndent || (indent == parentIndent && itemsAtSameIndent)) {
            return try parseBlockSequence(indent: indent, depth: depth + 1)
        }
        if indent > parentIndent && !isItem {
            return try parseBlockMapping(indent: indent, depth: depth + 1)
        }
        return null
    }

    private mutating func parseBlockMapping(indent: Int, depth: Int) throws(YAMLSyntaxError) -> YAMLNode {
        var entries: [YAMLEntry] = []
        var seen = Set<String>()
        let offset = pos + indent
        while true {
            skipEmptyLines()
            if pos >= b.count { break }
            let i = indentation(at: pos)
            if i < indent { break }
            if i > indent { throw YAMLSyntaxError(offset: pos + i, message: "unexpected indentation") }
            pos += i
            let keyOffset = pos
            let key = try parseKey()
            guard seen.insert(key).inserted else {
                throw YAMLSyntaxError(offset: keyOffset, message: "duplicate key '\(key)'")
            }
            let value = try parseValueAfterKey(parentIndent: indent, ownerOffset: keyOffset, depth: depth)
            entries.append(YAMLEntry(key: key, keyOffset: keyOffset, value: value))
        }
        return .mapping(entries, offset: offset)
    }

    private mutating func parseBlockSequence(indent: Int, depth: Int) throws(YAMLSyntaxError) -> YAMLNode {
        var items: [YAMLNode] = []
        let offset = pos + indent
        while true {
            skipEmptyLines()
            if pos >= b.count { break }
            let i = indentation(at: pos)
            let first = pos + i
            let isItem = at(first) == DASH && isBlankOrBreak(at(first + 1))
            if i < indent || (i == indent && !isItem) { break }
            if i > indent { throw YAMLSyntaxError(offset: first, message: "unexpected indentation") }
            pos = first + 1
            while isBlank(at(pos)) { pos += 1 }
            let c = at(pos)
            if c == LF || c == EOF || c == HASH {
                let nullOffset = pos
                pos = min(lineEnd(pos) + 1, b.count)
                items.append(try parseBlockBelow(parentIndent: indent, nullOffset: nullOffset,
                                                 itemsAtSameIndent: false, depth: depth))
            } else {
                items.append(try parseInline(parentIndent: indent, depth: depth))
                try expectLineEnd()
            }
        }
        return .sequence(items, offset: offset)
    }

    /// Characters that cannot start a plain scalar (or that start YAML features we reject).
    private func startsIndicator(_ c: Int, next: Int, flow: Bool) -> Bool {
        switch c {
        case DASH, COLON, 63 /* ? */: return isBlankOrBreak(next) || (flow && isFlowIndicator(next))
        case COMMA, LBR, RBR, LBC, RBC, HASH, 38 /* & */, 42 /* * */, 33 /* ! */, 124 /* | */,
             62 /* > */, 37 /* % */, 64 /* @ */, 96 /* ` */, SQ, DQ:
            return true
        default: return false
        }
    }

    private func isFlowIndicator(_ c: Int) -> Bool { c == COMMA || c == LBR || c == RBR || c == LBC || c == RBC }

    private func unsupported(_ c: Int) -> String {
        switch c {
        case 38, 42: return "anchors and aliases are not supported"
        case 33: return "tags are not supported"
        case 124, 62: return "block scalars are not supported here"
        default: return "unexpected character"
        }
    }

    /// A value that starts on the current line in block context.
    private mutating func parseInline(parentIndent: Int, depth: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let c = at(pos)
        switch c {
        case SQ: return .scalar(try parseSingleQuoted())
        case DQ: return .scalar(try parseDoubleQuoted())
        case LBR, LBC: return try parseFlow(depth: depth + 1)
        default:
            if startsIndicator(c, next: at(pos + 1), flow: false) {
                throw YAMLSyntaxError(offset: pos, message: unsupported(c))
            }
            return .scalar(try parsePlainBlock(parentIndent: parentIndent))
        }
    }

    // MARK: - Plain scalars

    /// One line's part of a block plain scalar, from `pos`; stops before ` #` or the line break.
    private mutating func scanPlainBlockSegment(into out: inout [UInt8]) throws(YAMLSyntaxError) {
        let start = pos
        var i = pos
        while true {
            let c = at(i)
            if c == LF || c == EOF { break }
            if c == HASH && i > start && isBlank(at(i - 1)) { break }
            if c == COLON && isBlankOrBreak(at(i + 1)) {
                throw YAMLSyntaxError(offset: i, message: "mapping values are not allowed here")
            }
            i += 1
        }
        var end = i
        while end > start, isBlank(Int(b[end - 1])) { end -= 1 }
        out.append(contentsOf: b[start..<end])
        pos = i
    }

    /// A plain scalar in block context; continuation lines must be indented deeper than its owner.
    private mutating func parsePlainBlock(parentIndent: Int) throws(YAMLSyntaxError) -> YAMLScalar {
        let offset = pos
        var out: [UInt8] = []
        try scanPlainBlockSegment(into: &out)
        while at(pos) == LF {
            // Look ahead over empty lines to the next content line.
            var k = pos + 1
            var emptyLines = 0
            var contentStart = k
            while true {
                var t = k
                while isBlank(at(t)) { t += 1 }
                if at(t) == LF { emptyLines += 1; k = t + 1; continue }
                contentStart = t
                break
            }
            let c = at(contentStart)
            if c == EOF || c == HASH || indentation(at: k) <= parentIndent { break }
            if emptyLines == 0 { out.append(UInt8(SP)) } else { out.append(contentsOf: repeatElement(UInt8(LF), count: emptyLines)) }
            pos = contentStart
            try scanPlainBlockSegment(into: &out)
        }
        return YAMLScalar(text: String(decoding: out, as: UTF8.self), style: .plain, offset: offset)
    }

    /// A plain scalar inside `[]` or `{}`: ends at `,`, a bracket, `: ` or ` #`; may fold over lines.
    private mutating func parsePlainFlow() throws(YAMLSyntaxError) -> YAMLScalar {
        let offset = pos
        var out: [UInt8] = []
        while true {
            let start = pos
            var i = pos
            while true {
                let c = at(i)
                if c == LF || c == EOF || isFlowIndicator(c) { break }
                if c == HASH && i > start && isBlank(at(i - 1)) { break }
                if c == COLON {
                    let n = at(i + 1)
                    if isBlankOrBreak(n) || isFlowIndicator(n) { break }
                }
                i += 1
            }
            var end = i
            while end > start, isBlank(Int(b[end - 1])) { end -= 1 }
            out.append(contentsOf: b[start..<end])
            pos = i
            guard at(pos) == LF else { break }
            var k = pos + 1
            var emptyLines = 0
            var t = k
            while true {
                t = k
                while isBlank(at(t)) { t += 1 }
                if at(t) == LF { emptyLines += 1; k = t + 1; continue }
                break
            }
            let c = at(t)
            if c == EOF || c == HASH || isFlowIndicator(c) || (c == COLON && (isBlankOrBreak(at(t + 1)) || isFlowIndicator(at(t + 1)))) {
                break
            }
            if emptyLines == 0 { out.append(UInt8(SP)) } else { out.append(contentsOf: repeatElement(UInt8(LF), count: emptyLines)) }
            pos = t
        }
        return YAMLScalar(text: String(decoding: out, as: UTF8.self), style: .plain, offset: offset)
    }

    // MARK: - Quoted scalars

    /// Line folding inside quotes, at a run of blanks starting at `i`: blanks before a break are
    /// dropped, one break becomes a space, each further (empty) line a `\n`. Returns false when
    /// the blanks are not followed by a break (then they are content).
    private func foldQuoted(at i: inout Int, into out: inout [UInt8]) -> Bool {
        var w = i
        while isBlank(at(w)) { w += 1 }
        guard at(w) == LF else { return false }
        var breaks = 0
        var k = w
        while at(k) == LF {
            breaks += 1
            k += 1
            while isBlank(at(k)) { k += 1 }
        }
        if breaks == 1 { out.append(UInt8(SP)) } else { out.append(contentsOf: repeatElement(UInt8(LF), count: breaks - 1)) }
        i = k
        return true
    }

    private mutating func parseSingleQuoted() throws(YAMLSyntaxError) -> YAMLScalar {
        let offset = pos
        var out: [UInt8] = []
        var i = pos + 1
        while true {
            let c = at(i)
            if c == EOF { throw YAMLSyntaxError(offset: offset, message: "expected a closing quote (')") }
            if c == SQ {
                if at(i + 1) == SQ { out.append(UInt8(SQ)); i += 2; continue }
                i += 1
                break
            }
            if c == SP || c == TAB || c == LF {
                if foldQuoted(at: &i, into: &out) { continue }
                while isBlank(at(i)) { out.append(b[i]); i += 1 }
                continue
            }
            out.append(b[i])
            i += 1
        }
        pos = i
        return YAMLScalar(text: String(decoding: out, as: UTF8.self), style: .singleQuoted, offset: offset)
    }

    private func hexValue(_ c: Int) -> UInt32? {
        switch c {
        case 48...57: return UInt32(c - 48)
        case 65...70: return UInt32(c - 55)
        case 97...102: return UInt32(c - 87)
        default: return nil
        }
    }

    private func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        if v < 0x80 {
            out.append(UInt8(v))
        } else if v < 0x800 {
            out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    private mutating func parseDoubleQuoted() throws(YAMLSyntaxError) -> YAMLScalar {
        let offset = pos
        var out: [UInt8] = []
        var i = pos + 1
        while true {
            let c = at(i)
            if c == EOF { throw YAMLSyntaxError(offset: offset, message: "expected a closing quote (\")") }
            if c == DQ { i += 1; break }
            if c == SP || c == TAB || c == LF {
                if foldQuoted(at: &i, into: &out) { continue }
                while isBlank(at(i)) { out.append(b[i]); i += 1 }
                continue
            }
            guard c == BS else { out.append(b[i]); i += 1; continue }
            let e = at(i + 1)
            var simple: UInt32? = nil
            var hexDigits = 0
            switch e {
            case 48 /* 0 */: simple = 0
            case 97 /* a */: simple = 7
            case 98 /* b */: simple = 8
            case 116 /* t */, TAB: simple = 9
            case 110 /* n */: simple = 10
            case 118 /* v */: simple = 11
            case 102 /* f */: simple = 12
            case 114 /* r */: simple = 13
            case 101 /* e */: simple = 27
            case SP: simple = 32
            case DQ: simple = 34
            case 47 /* / */: simple = 47
            case BS: simple = 92
            case 78 /* N */: simple = 0x85
            case 95 /* _ */: simple = 0xA0
            case 76 /* L */: simple = 0x2028
            case 80 /* P */: simple = 0x2029
            case 120 /* x */: hexDigits = 2
            case 117 /* u */: hexDigits = 4
            case 85 /* U */: hexDigits = 8
            case LF:
                // Escaped line break: nothing is inserted; the next line's leading blanks go,
                // and each following empty line is a `\n`.
                var k = i + 2
                while isBlank(at(k)) { k += 1 }
                while at(k) == LF {
                    out.append(UInt8(LF))
                    k += 1
                    while isBlank(at(k)) { k += 1 }
                }
                i = k
                continue
            default:
                throw YAMLSyntaxError(offset: i, message: "unknown escape sequence in a double-quoted string")
            }
            if let v = simple {
                appendUTF8(v, to: &out)
                i += 2
                continue
            }
            var v: UInt32 = 0
            for k in 0..<hexDigits {
                guard let h = hexValue(at(i + 2 + k)) else {
                    throw YAMLSyntaxError(offset: i, message: "expected \(hexDigits) hexadecimal digits after '\\\(Character(Unicode.Scalar(UInt8(e))))'")
                }
                v = v << 4 | h
            }
            guard v <= 0x10FFFF, !(0xD800...0xDFFF).contains(v) else {
                throw YAMLSyntaxError(offset: i, message: "escape sequence is not a valid character")
            }
            appendUTF8(v, to: &out)
            i += 2 + hexDigits
        }
        pos = i
        return YAMLScalar(text: String(decoding: out, as: UTF8.self), style: .doubleQuoted, offset: offset)
    }

    // MARK: - Flow collections

    /// Blanks, line breaks and comments inside `[]` / `{}`.
    private mutating func skipFlowSpace() {
        while true {
            let c = at(pos)
            if c == SP || c == TAB || c == LF { pos += 1; continue }
            if c == HASH, pos > 0, isBlankOrBreak(at(pos - 1)) { pos = lineEnd(pos); continue }
            return
        }
    }

    private mutating func parseFlowNode(depth: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let c = at(pos)
        switch c {
        case SQ: return .scalar(try parseSingleQuoted())
        case DQ: return .scalar(try parseDoubleQuoted())
        case LBR, LBC: return try parseFlow(depth: depth + 1)
        default:
            if c == EOF || startsIndicator(c, next: at(pos + 1), flow: true) {
                throw YAMLSyntaxError(offset: pos, message: c == EOF ? "unexpected end of the file" : unsupported(c))
            }
            return .scalar(try parsePlainFlow())
        }
    }

    private mutating func parseFlow(depth: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let offset = pos
        guard depth <= Self.maxDepth else { throw YAMLSyntaxError(offset: pos, message: "nesting is too deep") }
        if at(pos) == LBR {
            pos += 1
            var items: [YAMLNode] = []
            while true {
                skipFlowSpace()
                let c = at(pos)
                if c == EOF { throw YAMLSyntaxError(offset: offset, message: "expected a closing ']'") }
                if c == RBR { pos += 1; break }
                items.append(try parseFlowNode(depth: depth))
                skipFlowSpace()
                let d = at(pos)
                if d == COMMA { pos += 1; continue }
                if d == RBR { pos += 1; break }
                throw YAMLSyntaxError(offset: pos, message: d == EOF ? "expected a closing ']'" : "expected ',' or ']'")
            }
            return .sequence(items, offset: offset)
        }
        pos += 1
        var entries: [YAMLEntry] = []
        var seen = Set<String>()
        while true {
            skipFlowSpace()
            let c = at(pos)
            if c == EOF { throw YAMLSyntaxError(offset: offset, message: "expected a closing '}'") }
            if c == RBC { pos += 1; break }
            let keyOffset = pos
            guard case .scalar(let key) = try parseFlowNode(depth: depth) else {
                throw YAMLSyntaxError(offset: keyOffset, message: "expected a scalar key")
            }
            skipFlowSpace()
            var value = YAMLNode.scalar(YAMLScalar(text: "", style: .plain, offset: pos))
            if at(pos) == COLON {
                pos += 1
                skipFlowSpace()
                let v = at(pos)
                if v != COMMA && v != RBC { value = try parseFlowNode(depth: depth) }
            }
            guard seen.insert(key.text).inserted else {
                throw YAMLSyntaxError(offset: keyOffset, message: "duplicate key '\(key.text)'")
            }
            entries.append(YAMLEntry(key: key.text, keyOffset: keyOffset, value: value))
            skipFlowSpace()
            let d = at(pos)
            if d == COMMA { pos += 1; continue }
            if d == RBC { pos += 1; break }
            throw YAMLSyntaxError(offset: pos, message: d == EOF ? "expected a closing '}'" : "expected ',' or '}'")
        }
        return .mapping(entries, offset: offset)
    }
}
