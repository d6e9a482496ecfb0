import ArgumentParser

@main
struct Aurora: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aurora",
        abstract: "Recommends how to preprocess each column of a tabular file, and learns from your corrections.",
        subcommands: [
            AnalyzeCommand.self, FeedbackCommand.self, RulesCommand.self, StatsCommand.self, ForgetCommand.self, LoginCommand.self,
            ProfileCommand.self,
        ]
    )
}
