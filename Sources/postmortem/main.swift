import PostmortemCommands

Postmortem.runMain()
