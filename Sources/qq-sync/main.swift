import Glibc
import QQCore

// Everything, option parsing included, lives in QQSyncCommand so it can be tested.
exit(QQSyncCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: Environment.current()).code)
