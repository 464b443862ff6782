# SPDX-License-Identifier: MIT
"""aopgen: generates the C protocol model of aop from the YAML schema in schema/."""
