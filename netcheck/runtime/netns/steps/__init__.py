"""The netns runtime's build and teardown steps, one small named function each.

`runtime.NetnsRuntime` composes them in order (`LAB_STEPS`, `ENDPOINT_STEPS`, `NODE_STEPS`,
`SETTLE_STEPS`); a new piece of the lab is a new function here and one entry there.
"""
