import Glibc
import QQCore

// Everything, option parsing included, lives in QQWipeCommand so it can be tested.
exit(QQWipeCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: Environment.current()).code)
