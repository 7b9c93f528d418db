import Testing
@testable import QQCore

@Suite struct HostlistTests {
    /// R56's example table, exactly (scenario 23).
    @Test(arguments: [
        ("vm", ["vm"]),
        ("n[1-2]", ["n1", "n2"]),
        ("nid[001-003,007]", ["nid001", "nid002", "nid003", "nid007"]),
        ("cn[08-10],gpu1", ["cn08", "cn09", "cn10", "gpu1"]),
        ("a[1-2]b[3-4]", ["a1b3", "a1b4", "a2b3", "a2b4"]),
    ])
    func specExampleTableExpandsExactly(input: String, expected: [String]) throws {
        #expect(try Hostlist.expand(input) == expected)
    }

    @Test func rangeKeepsTheWidthOfItsLowerBound() throws {
        #expect(try Hostlist.expand("n[8-10]") == ["n8", "n9", "n10"])
        #expect(try Hostlist.expand("n[098-101]") == ["n098", "n099", "n100", "n101"])
    }

    @Test func literalTextBetweenAndAfterGroupsIsKept() throws {
        #expect(try Hostlist.expand("rack[1-2]-n[01-02].ib") ==
                ["rack1-n01.ib", "rack1-n02.ib", "rack2-n01.ib", "rack2-n02.ib"])
    }

    @Test func emptyListExpandsToNothing() throws {
        #expect(try Hostlist.expand("") == [])
    }

    @Test(arguments: ["n[1-2", "n1-2]", "n[a-b]", "n[3-1]", "n[]", "n[[1]]", "a,,b", "n[1-]", "n[-2]", "n[1,]", ","])
    func malformedListIsAnError(input: String) {
        #expect(throws: HostlistError.self) { try Hostlist.expand(input) }
    }

    @Test func exactlyOneHundredThousandNamesAreAllowed() throws {
        let names = try Hostlist.expand("n[1-100000]")
        #expect(names.count == 100_000)
        #expect(names.last == "n100000")
    }

    @Test func moreThanOneHundredThousandNamesIsAnError() {
        #expect(throws: HostlistError.self) { try Hostlist.expand("n[1-100001]") }
        #expect(throws: HostlistError.self) { try Hostlist.expand("a[1-1000]b[1-101]") }
        #expect(throws: HostlistError.self) { try Hostlist.expand("a[1-60000],b[1-60000]") }
        #expect(throws: HostlistError.self) { try Hostlist.expand("n[0-99999999999999999999]") }
    }

    @Test func errorMessageNamesTheList() {
        do { _ = try Hostlist.expand("n[3-1]"); Issue.record("no error") } catch {
            #expect(error.description.contains("'n[3-1]'"))
        }
    }
}
