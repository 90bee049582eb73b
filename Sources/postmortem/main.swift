import PostmortemCommands

Postmortem.main()
