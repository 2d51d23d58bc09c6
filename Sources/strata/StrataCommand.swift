import ArgumentParser
import Strata
import StrataStorage

@main
struct StrataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Operate on Strata stores.",
        version: StrataVersion.string,
        subcommands: [Demo.self, AppendLoop.self]
    )
}
