from selfdistill.entry import main

main()
