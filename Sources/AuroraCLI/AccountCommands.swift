import ArgumentParser
import AuroraProtocol
import AuroraRPC
import Foundation

/// `aurora login`: checks a token against the gateway and saves both for later commands.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Save the gateway address and your access token (checked first) in the config file, mode 0600.",
        discussion: "The token comes from --token, else AURORA_TOKEN, else standard input. The file is $AURORA_CONFIG or ~/.config/aurora/config.json."
    )

    @OptionGroup(title: "Connection")
    var connection: ConnectionOptions

    func run() async throws {
        try await reportingErrors {
            var options = self.connection
            if options.token == nil, ProcessInfo.processInfo.environment["AURORA_TOKEN"]?.isEmpty ?? true {
                guard let line = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces), !line.isEmpty else {
                    throw ValidationError("give the token with --token, AURORA_TOKEN or on standard input")
                }
                options.token = line
            }
            let (host, port, token) = try options.resolve()
            // A call proves the token works (and has at least the analyze scope).
            _ = try await options.withClient { client in
                try await client.unary(GatewayAPI.stats, Aurora_Learning_V1_StatsRequest(), options: options.callOptions)
            }
            try LoginConfig(gateway: "\(host):\(port)", token: token).save()
            print("logged in to \(host):\(port); saved to \(LoginConfig.path)")
        }
    }
}

/// `aurora feedback ID --accept COLUMN --correct COLUMN=ACTION`.
struct FeedbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback",
        abstract: "Accept or correct the recommendations of an analysis; AURORA learns from corrections.",
        discussion: "COLUMN is a column name or its zero-based index. Actions: \(knownActions.joined(separator: ", "))."
    )

    static let knownActions = [
        "keep", "standard_scale", "minmax_scale", "robust_scale", "log_transform", "yeo_johnson", "quantile_transform", "clip_outliers",
        "impute_mean", "impute_median", "impute_mode", "impute_constant", "one_hot_encode", "ordinal_encode", "target_encode", "hash_encode",
        "frequency_encode", "datetime_features", "text_tfidf", "drop_column",
    ]

    @Argument(help: "The analysis id that `aurora analyze` printed.")
    var analysisID: String

    @Option(name: .customLong("accept"), help: "A column whose recommendation is right (repeatable).")
    var accepted: [String] = []

    @Option(name: .customLong("correct"), help: "COLUMN=ACTION: the action that should have been recommended (repeatable).")
    var corrections: [String] = []

    @Flag(name: .customLong("accept-rest"), help: "Accept every column not named by --accept or --correct that has no verdict yet.")
    var acceptRest = false

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup(title: "Connection")
    var connection: ConnectionOptions

    func run() async throws {
        try await reportingErrors {
            var request = Aurora_Gateway_V1_FeedbackRequest()
            request.analysisID = self.analysisID
            request.acceptRest = self.acceptRest
            for column in self.accepted {
                var verdict = Aurora_Gateway_V1_ColumnVerdict()
                verdict.column = column
                request.verdicts.append(verdict)
            }
            for text in self.corrections {
                guard let equals = text.lastIndex(of: "="), equals != text.startIndex else {
                    throw ValidationError("--correct takes COLUMN=ACTION, not '\(text)'")
                }
                let action = String(text[text.index(after: equals)...])
                guard Self.knownActions.contains(action) else {
                    throw ValidationError("unknown action '\(action)' in --correct \(text); actions are \(Self.knownActions.joined(separator: ", "))")
                }
                var verdict = Aurora_Gateway_V1_ColumnVerdict()
                verdict.column = String(text[..<equals])
                verdict.action = action
                request.verdicts.append(verdict)
            }
            guard !request.verdicts.isEmpty || self.acceptRest else {
                throw ValidationError("give at least one --accept COLUMN, --correct COLUMN=ACTION or --accept-rest")
            }
            var named: [String: String] = [:]
            for verdict in request.verdicts {
                let option = Self.option(for: verdict)
                if let earlier = named[verdict.column] {
                    throw ValidationError("column '\(verdict.column)' is named twice (\(earlier) and \(option)): give one verdict per column")
                }
                named[verdict.column] = option
            }
            let response: Aurora_Learning_V1_FeedbackResponse
            do {
                response = try await self.connection.withClient { client in
                    try await client.unary(GatewayAPI.feedback, request, options: self.connection.callOptions)
                }
            } catch let error as CLIError {
                throw Self.namingTheVerdict(error, verdicts: request.verdicts)
            }
            let unanswered = response.unanswered.first { $0.analysisID == self.analysisID }?.columnIndexes ?? []
            if self.json {
                try JSONOutput.print(["stored": response.stored, "duplicates": response.duplicates, "unanswered_columns": unanswered.map { Int($0) }])
            } else {
                print("recorded \(response.stored) verdict(s)" + (response.duplicates > 0 ? "; \(response.duplicates) already recorded earlier" : ""))
                if !unanswered.isEmpty { print(Self.unansweredAdvice(unanswered, analysisID: self.analysisID)) }
            }
        }
    }
}

extension FeedbackCommand {
    /// Which columns still have no verdict, and how to give them one.
    static func unansweredAdvice(_ columns: [UInt32], analysisID: String) -> String {
        let shown = columns.prefix(20).map(String.init).joined(separator: ", ") + (columns.count > 20 ? ", … (\(columns.count) in all)" : "")
        let noun = columns.count == 1 ? "column \(shown) has" : "\(columns.count) columns have"
        let their = columns.count == 1 ? "its recommendation is" : "their recommendations are"
        return "\(noun) no verdict yet\(columns.count == 1 ? "" : " (\(shown))"); a column without one teaches AURORA nothing. "
            + "If \(their) right: aurora feedback \(analysisID) --accept-rest"
    }

    /// How the user wrote a verdict: `--accept income` or `--correct income=keep`.
    static func option(for verdict: Aurora_Gateway_V1_ColumnVerdict) -> String {
        verdict.action.isEmpty ? "--accept \(verdict.column)" : "--correct \(verdict.column)=\(verdict.action)"
    }

    /// The service names a verdict by its place in the request ("items[2]: ..."), which the user
    /// never wrote: the message names the option instead.
    static func namingTheVerdict(_ error: CLIError, verdicts: [Aurora_Gateway_V1_ColumnVerdict]) -> CLIError {
        guard error.description.hasPrefix("items["), let close = error.description.firstIndex(of: "]"),
            let index = Int(error.description[error.description.index(error.description.startIndex, offsetBy: 6)..<close]), verdicts.indices.contains(index)
        else { return error }
        var rest = error.description[error.description.index(after: close)...]
        if rest.hasPrefix(":") { rest = rest.dropFirst() }
        return CLIError(error.kind, "\(Self.option(for: verdicts[index])):\(rest)")
    }
}

/// `aurora rules` and `aurora rules disable ID`.
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "List the rules AURORA learned from your corrections.", subcommands: [List.self, Disable.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List your learned rules (the default).")

        @Flag(help: "Also your inactive rules and the shared rules that apply to you (rules many users agree on).")
        var all = false

        @Option(
            name: .customLong("domain"),
            help: "A domain you analyze with (repeatable): its rules are labelled with this name. AURORA stores domains only as pseudonyms, so unnamed ones show as `domain KEY.HEX`.")
        var domains: [String] = []

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup(title: "Connection")
        var connection: ConnectionOptions

        func run() async throws {
            try await reportingErrors {
                var request = Aurora_Learning_V1_ListRulesRequest()
                request.includeInactive = self.all
                request.includeShared = self.all
                request.domains = self.domains
                let response = try await self.connection.withClient { client in
                    try await client.unary(GatewayAPI.rules, request, options: self.connection.callOptions)
                }
                if self.json {
                    try JSONOutput.print([
                        "rules": response.rules.map { rule in
                            [
                                "id": rule.id, "scope": rule.scope, "domain": rule.domain, "description": rule.description_p, "condition": rule.condition,
                                "action": rule.action, "alpha": rule.alpha, "beta": rule.beta, "support": rule.support, "active": rule.active,
                                "confidence": rule.confidence,
                            ] as [String: Any]
                        }
                    ])
                } else if response.rules.isEmpty {
                    print("no learned rules yet: correct some recommendations with `aurora feedback`")
                } else {
                    for rule in response.rules {
                        let shared = rule.scope == "global"
                        let scope = shared ? "shared" : rule.domain.isEmpty ? rule.scope : "\(rule.scope) \(Terminal.printable(rule.domain))"
                        let state = rule.active ? "" : shared ? ", disabled for you" : ", inactive"
                        print("#\(rule.id)  [\(scope)\(state)]  \(rule.description_p)")
                    }
                }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "disable", abstract: "Stop a rule from being used: one of yours, or a shared one for you alone.")

        @Argument(help: "The rule id (from `aurora rules --all`), with or without its '#'.", transform: { text in
            guard let id = UInt64(text.hasPrefix("#") ? String(text.dropFirst()) : text) else {
                throw ValidationError("a rule id is a number such as 5 or #5, not '\(text)'")
            }
            return id
        })
        var id: UInt64

        @OptionGroup(title: "Connection")
        var connection: ConnectionOptions

        func run() async throws {
            try await reportingErrors {
                var request = Aurora_Learning_V1_DisableRuleRequest()
                request.id = self.id
                let response = try await self.connection.withClient { client in
                    try await client.unary(GatewayAPI.disableRule, request, options: self.connection.callOptions)
                }
                guard response.disabled else { throw CLIError(.failure, "you have no rule #\(self.id)") }
                print("rule #\(self.id) disabled")
            }
        }
    }
}

/// `aurora stats`.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Acceptance rate over time, rules and privacy budget spent.")

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup(title: "Connection")
    var connection: ConnectionOptions

    func run() async throws {
        try await reportingErrors {
            let response = try await self.connection.withClient { client in
                try await client.unary(GatewayAPI.stats, Aurora_Learning_V1_StatsRequest(), options: self.connection.callOptions)
            }
            if self.json {
                try JSONOutput.print([
                    "acceptance": response.acceptance.map {
                        ["day": $0.day, "recommendations": $0.recommendations, "accepted": $0.accepted, "corrected": $0.corrected] as [String: Any]
                    },
                    "rules_active": response.rulesActive, "rules_total": response.rulesTotal, "epsilon_spent": response.epsilonSpent,
                    "epsilon_budget": response.epsilonBudget, "epsilon_per_column": response.epsilonPerColumn, "feedback": response.feedback,
                ])
                return
            }
            print("feedback recorded: \(response.feedback); rules: \(response.rulesActive) active of \(response.rulesTotal)")
            print(Self.privacy(response))
            for point in response.acceptance {
                let judged = point.accepted + point.corrected
                let rate = judged > 0 ? String(format: "%.0f%%", 100 * Double(point.accepted) / Double(judged)) : "-"
                print("\(point.day)  \(point.recommendations) recommendations, \(point.accepted) accepted, \(point.corrected) corrected, acceptance \(rate)")
            }
        }
    }
}

extension StatsCommand {
    /// ε in one sentence, then what is spent and what is left.
    static func privacy(_ response: Aurora_Learning_V1_StatsResponse) -> String {
        let left = max(0, response.epsilonBudget - response.epsilonSpent)
        let columns = response.epsilonPerColumn > 0 ? Int((left / response.epsilonPerColumn).rounded(.down)) : 0
        let explanation =
            "privacy: AURORA keeps each analysed column only as a fingerprint blurred with random noise; ε measures how much one could reveal (lower is more private), and the ε of all your fingerprints add up."
        let spent = String(format: "ε spent %.1f of your budget of %.1f: %.1f left, about %d more columns", response.epsilonSpent, response.epsilonBudget, left, columns)
        let after = left < response.epsilonPerColumn
            ? " Your budget is spent: analyses still get recommendations from your rules but are no longer recorded; `aurora forget` erases your data and resets it."
            : ""
        return "\(explanation)\n\(spent) (ε \(String(format: "%.1f", response.epsilonPerColumn)) per column).\(after)"
    }
}

/// `aurora forget`.
struct ForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget", abstract: "Delete everything AURORA learned about you: feedback, rules, recommendation log, privacy ledger.")

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    @OptionGroup(title: "Connection")
    var connection: ConnectionOptions

    func run() async throws {
        try await reportingErrors {
            if !self.yes {
                FileHandle.standardError.write(Data("Delete everything AURORA learned about you? Type 'yes': ".utf8))
                guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
                    throw CLIError(.failure, "nothing deleted")
                }
            }
            let response = try await self.connection.withClient { client in
                try await client.unary(GatewayAPI.forget, Aurora_Learning_V1_ForgetRequest(), options: self.connection.callOptions)
            }
            print("deleted \(response.feedbackDeleted) feedback records, \(response.rulesDeleted) rules, \(response.logDeleted) log entries")
        }
    }
}
