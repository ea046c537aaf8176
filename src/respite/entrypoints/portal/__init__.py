"""The debtor portal: log in with the code on a letter, see and understand every debt,
pay, propose a plan, defer, dispute, ask for help. Server-rendered; works without JavaScript.
"""
