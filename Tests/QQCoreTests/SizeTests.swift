import Testing
@testable import QQCore
@Test func sizeFormatsAsR104() { #expect(Size.format(kilobytes: 16777216) == "16gb") }
